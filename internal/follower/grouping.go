package follower

import (
	"sync/atomic"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/multiline"
)

// grouping joins each stream's lines into multiline records. A pending
// group keeps the tracker from settling, so the position stays before its
// first line until it is emitted; a reopened stream rebuilds it from there.
type grouping struct {
	timeout time.Duration
	g       [2]*multiline.Grouper
	last    [2]time.Time // when each stream's pending group last grew
	// newest is the Docker timestamp of the newest line each stream added,
	// kept across reset: lines not newer are replayed by a reopened stream.
	newest [2]int64
}

func newGrouping(r *multiline.Rules) *grouping {
	return &grouping{timeout: r.FlushTimeout(), g: [2]*multiline.Grouper{r.NewGrouper(), r.NewGrouper()}}
}

// add groups l and returns the records it completes, valid until the next
// call for the same stream.
func (gr *grouping) add(l line.Line, now time.Time) []multiline.Record {
	i := l.Stream.Index()
	recs := gr.g[i].Add(l)
	// A replayed line does not make its group younger: otherwise streams
	// rotating faster than the flush timeout would hold a quiet stream's
	// group for as long as it stays quiet. (A line stamped no later than
	// an earlier one, as after a clock step back, lets a group be flushed
	// early, at most a flush timeout after its previous line.)
	if l.Timestamp == 0 || l.Timestamp > gr.newest[i] {
		gr.last[i] = now
		gr.newest[i] = max(gr.newest[i], l.Timestamp)
	}
	return recs
}

// pending reports whether a stream holds lines back.
func (gr *grouping) pending() bool { return gr.g[0].Pending() || gr.g[1].Pending() }

// deadline is when the earliest pending group is due for a flush.
func (gr *grouping) deadline() (time.Time, bool) {
	var at time.Time
	for i, g := range gr.g {
		if d, ok := g.Deadline(gr.last[i]); ok && (at.IsZero() || d.Before(at)) {
			at = d
		}
	}
	return at, !at.IsZero()
}

// flushGrace is how long after the consumer took a batch the reader waits
// for data before it flushes a group past its deadline: the deadline may
// have passed while the consumer held the reader, and the group's next line
// may wait in the socket.
const flushGrace = 250 * time.Millisecond

// flushAt is when to flush if the stream brings nothing more: the earliest
// deadline, but not within a grace after handedOn, when the consumer last
// took a batch (zero: never in this stream). Zero when nothing is pending.
func (gr *grouping) flushAt(handedOn time.Time) time.Time {
	at, ok := gr.deadline()
	if !ok {
		return time.Time{}
	}
	if !handedOn.IsZero() {
		if soonest := handedOn.Add(min(flushGrace, gr.timeout)); at.Before(soonest) {
			at = soonest
		}
	}
	return at
}

// stale reports whether a message stamped ts shows a pending group was not
// continued within the flush timeout (multiline.Grouper.Stale).
func (gr *grouping) stale(ts int64) bool { return gr.g[0].Stale(ts) || gr.g[1].Stale(ts) }

// flushStale emits the groups that a message stamped ts shows were not
// continued within the flush timeout (multiline.Grouper.Stale).
func (gr *grouping) flushStale(ts int64, emit func(multiline.Record)) {
	for _, g := range gr.g {
		if g.Stale(ts) {
			for _, r := range g.Flush() {
				emit(r)
			}
		}
	}
}

// flush emits through emit the pending groups due at now (all of them when
// now is zero: the run ended).
func (gr *grouping) flush(now time.Time, emit func(multiline.Record)) {
	for i, g := range gr.g {
		if d, ok := g.Deadline(gr.last[i]); ok && (now.IsZero() || !now.Before(d)) {
			for _, r := range g.Flush() {
				emit(r)
			}
		}
	}
}

// reset forgets pending groups: the next stream replays their lines.
func (gr *grouping) reset() {
	for _, g := range gr.g {
		g.Reset()
	}
}

// flushTimer ends a stream that waits for the daemon while a group is due,
// so that the group is emitted: a read cannot be interrupted otherwise.
type flushTimer struct {
	t     *time.Timer
	fired atomic.Bool
}

func newFlushTimer(cancel func()) *flushTimer {
	ft := &flushTimer{}
	ft.t = time.AfterFunc(time.Hour, func() { ft.fired.Store(true); cancel() })
	ft.t.Stop()
	return ft
}

// arm sets the timer for at, or stops it when at is zero.
func (ft *flushTimer) arm(at time.Time) {
	if at.IsZero() {
		ft.t.Stop()
		return
	}
	ft.t.Reset(time.Until(at))
}

// expired reports whether the timer ended the stream.
func (ft *flushTimer) expired() bool { return ft.fired.Load() }

func (ft *flushTimer) stop() { ft.t.Stop() }
