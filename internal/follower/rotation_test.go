package follower

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/pool"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

// TestRotationWaitsWhileBehind: a due rotation is put off while behind
// says so, asked again soon, and happens once the reader caught up.
func TestRotationWaitsWhileBehind(t *testing.T) {
	var lagging atomic.Bool
	lagging.Store(true)
	asked := make(chan struct{}, 100)
	cancelled := make(chan struct{})
	r := &rotation{interval: 20 * time.Millisecond, cancel: func() { close(cancelled) }, behind: func() bool {
		select {
		case asked <- struct{}{}:
		default:
		}
		return lagging.Load()
	}}
	r.progressed()
	r.start(r.interval)
	defer r.stop()
	for range 3 {
		select {
		case <-asked:
		case <-cancelled:
			t.Fatal("rotated while behind")
		case <-time.After(10 * time.Second):
			t.Fatal("the rotation never asked whether the reader is behind")
		}
	}
	lagging.Store(false)
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("not rotated after the reader caught up")
	}
	if !r.rotated() {
		t.Error("rotated() is false")
	}
}

// TestRotationPostponedAtMostMaxPostpone: a reader behind for good is
// rotated after maxPostpone intervals.
func TestRotationPostponedAtMostMaxPostpone(t *testing.T) {
	cancelled := make(chan struct{})
	r := &rotation{interval: 5 * time.Millisecond, cancel: func() { close(cancelled) }, behind: func() bool { return true }}
	r.progressed()
	start := time.Now()
	r.start(r.interval)
	defer r.stop()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("never rotated")
	}
	if d := time.Since(start); d < (maxPostpone+1)*r.interval {
		t.Errorf("rotated after %v, want at least %v", d, (maxPostpone+1)*r.interval)
	}
}

func TestLagMeter(t *testing.T) {
	now := time.Unix(1000, 0)
	var m lagMeter
	if m.behind(now) {
		t.Error("behind before any line")
	}
	m.seen(now.UnixNano(), now.Add(-2*catchUpLag).UnixNano())
	if !m.behind(now) {
		t.Error("a line 2 s old on arrival: not behind")
	}
	if m.behind(now.Add(catchUpLag)) {
		t.Error("nothing arrived for catchUpLag since: still behind")
	}
	m.seen(now.UnixNano(), now.Add(-catchUpLag/2).UnixNano())
	if m.behind(now) {
		t.Error("a fresh line: behind")
	}
	m.refused.Store(true)
	if !m.behind(now.Add(time.Hour)) {
		t.Error("the consumer refuses: not behind")
	}
}

// TestLaggingStreamPostponesRotation: while the consumer refuses, and then
// while the reader works through lines stamped seconds ago, a due rotation
// waits and the stream stays open, unless another container waits for the
// slot.
func TestLaggingStreamPostponesRotation(t *testing.T) {
	for _, waiter := range []bool{false, true} {
		t.Run(fmt.Sprintf("waiter=%v", waiter), func(t *testing.T) {
			h := newHarness(t, modern)
			h.set.RotationInterval = 40 * time.Millisecond
			if waiter {
				h.set.Pool = pool.New(1)
			}
			// 10+20+40+80 ms of backoff: under 4 intervals, well within
			// maxPostpone (10) also on a loaded machine (at 20 ms a CI run
			// once rotated).
			_, waitRefused := h.refuseFirst(4)
			id := h.add(fakedocker.Container{Name: "web"})
			w := &lines{src: "web"}
			old := time.Now().Add(-3 * time.Second)
			h.d.WriteEntries(id, w.entry(fakedocker.Stdout, 20, old))
			g := h.group()
			g.Upsert(h.inspect(id), false)
			waitRefused()
			if waiter {
				g.Upsert(h.inspect(h.add(fakedocker.Container{Name: "other"})), false)
			}
			// More than a read buffer of lines the daemon still holds,
			// stamped long before they are read.
			var es []fakedocker.Entry
			for i := range 300 {
				es = append(es, w.entry(fakedocker.Stdout, 60, old.Add(time.Second+time.Duration(i)*time.Microsecond)))
			}
			h.d.WriteEntries(id, es...)
			w.expect(&h.sink.Checker)
			h.waitChecker()
			h.exact()
			follows := 0
			for _, r := range h.d.RequestsTo("/containers/" + id + "/logs") {
				if r.Query.Get("follow") == "1" {
					follows++
				}
			}
			switch {
			case !waiter && follows != 1:
				t.Errorf("%d streams opened, want the first one kept open while it lags", follows)
			case waiter && follows < 2:
				t.Errorf("%d streams opened, want a rotation: another container waits for the slot", follows)
			}
		})
	}
}
