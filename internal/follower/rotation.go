package follower

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// rotation ends a stream when its interval is up, but never during its
// replay: a replay longer than the interval (a long line's parts share one
// timestamp, many lines can sit at the position's timestamp, the daemon can
// be slow) would otherwise be cut and started again forever. When the
// replay ends after the interval, the stream gets a fresh interval of new
// data. What the reader has buffered when it is cancelled is still handled.
//
// Nor does it end a stream while behind reports the reader lagging and
// nobody waits for its slot, for up to maxPostpone intervals: a stream
// delivering a backlog is alive, and a reopen would resume from a position
// Docker may rotate away meanwhile, and would make the daemon search back
// for it.
type rotation struct {
	cancel   func()
	interval time.Duration
	timer    *time.Timer
	behind   func() bool // nil: never postpone

	mu        sync.Mutex
	fired     bool // the interval is up (read by stream after the reader ended)
	through   bool // the replay is done
	late      bool // the interval ran out during the replay
	postponed time.Time
}

// maxPostpone caps how many intervals a lagging stream stays open past its
// rotation.
const maxPostpone = 10

// start arms the timer; due may run before AfterFunc returns, and it
// takes the lock first.
func (r *rotation) start(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timer = time.AfterFunc(d, r.due)
}

func (r *rotation) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.timer.Stop()
}

func (r *rotation) due() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.through {
		r.late = true
		return
	}
	if r.behind != nil && r.behind() {
		now := time.Now()
		if r.postponed.IsZero() {
			r.postponed = now
		}
		if now.Sub(r.postponed) < maxPostpone*r.interval {
			// Check again soon: a container that starts waiting for a
			// slot gets it within this, on top of the pool's bound.
			r.timer.Reset(min(max(r.interval/10, 10*time.Millisecond), time.Second))
			return
		}
	}
	r.fired = true
	r.cancel()
}

func (r *rotation) progressed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.through {
		return
	}
	r.through = true
	if r.late {
		r.timer.Reset(jitter(r.interval))
	}
}

// rotated reports whether the stream was closed by its rotation.
func (r *rotation) rotated() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fired
}

// lagMeter tells whether the reader is behind the daemon: the newest line
// of the last batch was stamped more than catchUpLag before the consumer
// accepted it, or the consumer refuses batches. flush updates it; the
// rotation timer reads it.
type lagMeter struct {
	lag     atomic.Int64 // ns between the newest line's stamp and its delivery
	at      atomic.Int64 // when that was measured (Unix ns)
	refused atomic.Bool  // the consumer refused the last attempt
}

// catchUpLag is how old a line may be when it is delivered for its reader
// to count as caught up. Docker stamps lines with its own clock: a remote daemon's skew
// adds to it (and maxPostpone still bounds the postponement).
const catchUpLag = time.Second

func (m *lagMeter) seen(delivered, stamp int64) {
	m.lag.Store(delivered - stamp)
	m.at.Store(delivered)
}

// behind reports a lag measured within the last catchUpLag (a reader that
// has been waiting longer than that for data has caught up).
func (m *lagMeter) behind(now time.Time) bool {
	if m.refused.Load() {
		return true
	}
	return m.lag.Load() > int64(catchUpLag) && now.UnixNano()-m.at.Load() < int64(catchUpLag)
}

// mayPostpone reports whether the stream's rotation may wait: the reader is
// behind and no other container waits for a slot.
func (f *Follower) mayPostpone() bool {
	return f.set.Pool.Waiting() == 0 && f.lag.behind(time.Now())
}

// jitter spreads rotations of containers started together by ±10%.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + rand.N(d/5+1)
}
