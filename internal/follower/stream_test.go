package follower

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/pool"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

// TestEndPosition: the end position is anchored on the last message unless
// that message is part of an unfinished line.
func TestEndPosition(t *testing.T) {
	last := cursor.FingerprintOf(5e9, 1, false, []byte("last\n"))
	p := endPosition(last)
	if !p.TailSafe() || p.Since != 5e9 || p.Skip != 1 || p.Anchor != last || p.MaxTimestamp != 5e9 {
		t.Errorf("complete last line: %+v", p)
	}
	part := cursor.FingerprintOf(5e9, 1, true, []byte("part"))
	if p := endPosition(part); p.TailSafe() || p.Since != 5e9+1 || p.Skip != 0 {
		t.Errorf("partial last message: %+v", p)
	}
	if p := endPosition(cursor.Fingerprint{}); p != (cursor.Position{}) {
		t.Errorf("empty log: %+v", p)
	}
}

// TestTailWindow: each miss quadruples the window; past the cap the reopen
// goes without tail.
func TestTailWindow(t *testing.T) {
	for _, tc := range []struct {
		base, skip uint64
		misses     int
		want       uint64
	}{
		{1000, 1, 0, 1000},
		{1000, 900, 0, 1800},
		{1000, 1, 1, 4000},
		{1000, 1, 2, 16000},
		{1000, 1, 8, 0},
		{1000, 1, 6, 0}, // 4,096,000 > cap
		{1000, 1, 5, 1_024_000},
		{1 << 20, 1, 0, 1 << 20},
		{1 << 20, 1, 1, 0},
		{1000, 1 << 40, 0, 1 << 41}, // a huge skip is asked for as it is
		{1000, 1 << 40, 1, 0},
	} {
		if got := tailWindow(tc.base, tc.skip, tc.misses); got != tc.want {
			t.Errorf("tailWindow(%d, %d, %d) = %d, want %d", tc.base, tc.skip, tc.misses, got, tc.want)
		}
	}
}

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

// TestPositionRotatedAwayIsReported: Docker deleted the lines at and after
// the position while the container waited for a slot. The reopen finds the
// anchor in no window (a larger window that starts at the same message
// holds the whole log), delivers what Docker kept, once, and reports the
// gap in cursor_gaps and the log, without ever asking for since alone.
func TestPositionRotatedAwayIsReported(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		h.set.Pool = pool.New(1)
		h.set.ReopenTail = 1000
		h.set.RotationInterval = 20 * time.Millisecond
		id := h.add(fakedocker.Container{Name: "web"})
		w := &lines{src: "web"}
		write := func(n int) {
			for range n {
				h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
			}
		}
		write(100)
		g := h.group()
		g.Upsert(h.inspect(id), false)
		h.waitRecords(100)

		// Take the slot at the follower's next rotation: it waits.
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		slot, _, err := h.set.Pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		write(100)
		h.d.Forget(id, 150) // lines 1..150: 101..150 were never read
		write(10)
		slot.Release()
		w.expect(&h.sink.Checker)
		h.waitRecords(160)
		h.waitLogged("rotated away")

		r, _ := h.sink.Checker.Report().Stream("web", "stdout")
		if r.Missing != 50 || r.Duplicates != 0 || r.Unique != 160 || (len(r.MissingSeqs) > 0 && r.MissingSeqs[0] != 101) {
			t.Errorf("want 101..150 missing, nothing else lost or duplicated: %+v", r)
		}
		if n := h.counter("cursor_gaps", "", ""); n != 1 {
			t.Errorf("cursor_gaps = %d, want 1", n)
		}
		if n := h.counter("stream_rotations", "reason", "tail_miss"); n != 1 {
			t.Errorf("%d tail misses, want 1 (the second, larger window shows the anchor is gone)", n)
		}
		for _, q := range h.d.RequestsTo("/containers/" + id + "/logs") {
			if q.Query.Get("since") != "" && q.Query.Get("tail") == "" {
				t.Errorf("a reopen with since alone (a full scan): %v", q.Query)
			}
		}
	})
}
