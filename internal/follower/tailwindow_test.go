package follower

import (
	"context"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/pool"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

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
