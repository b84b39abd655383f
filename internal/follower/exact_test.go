package follower

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/pool"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
)

// TestExactlyOnceAcrossRotations writes lines while streams rotate every
// 50 ms: groups of lines share one timestamp, stderr lines are stamped a
// few ms behind stdout, some lines are split into parts, and some bursts
// are long enough to be cut by a rotation while being read. Every line must
// arrive exactly once, in order.
func TestExactlyOnceAcrossRotations(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		// Every fourth batch is held by the consumer until the rotation
		// has closed the stream, so streams also rotate in the middle of
		// reading (the rest of a burst is left unread, to be resumed).
		var calls, held atomic.Int64
		h.set.Consumer = &tap{next: h.sink, f: func(plog.Logs) error {
			if calls.Add(1)%4 == 2 {
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				defer cancel()
				if err := h.d.WaitLogStreams(ctx, 0); err != nil {
					t.Error("the stream was not rotated while the consumer held a batch")
				}
				held.Add(1)
			}
			return nil
		}}
		id := h.add(fakedocker.Container{Name: "web"})
		g := h.group()
		g.Upsert(h.inspect(id), false)

		w := &lines{src: "web"}
		const rounds = 30
		for r := range rounds {
			n := 40
			if r%10 == 5 {
				n = 3000 // a burst that takes longer than a rotation interval to read
			}
			var es []fakedocker.Entry
			for len(es) < n {
				now := time.Now()
				for range 1 + r%4 { // identical timestamps
					es = append(es, w.entry(fakedocker.Stdout, 10+len(es)%90, now))
				}
				// stderr stamped 1-9 ms behind the newest stdout line
				behind := time.Duration(1+len(es)%9) * time.Millisecond
				es = append(es, w.entry(fakedocker.Stderr, 20, now.Add(-behind)))
				es = append(es, w.entry(fakedocker.Stdout, 5, now))
			}
			h.d.WriteEntries(id, es...)
			// Lines split into parts sharing a timestamp (interleaved
			// with nothing: the daemon writes a split line at once).
			h.d.WriteSplit(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 300), 64)
			if r%3 == 0 {
				h.d.WriteSplit(id, fakedocker.Stderr, w.next(fakedocker.Stderr, 100), 50)
			}
			if r%5 == 4 {
				// Let at least one rotation happen before writing more.
				h.api.waitOpens(t, h.api.opens()+1)
			}
		}
		w.expect(&h.sink.Checker)
		h.waitChecker()

		// Two more reopens after everything arrived, then one more line per
		// stream: a replay that duplicated old lines would show now.
		h.api.waitOpens(t, h.api.opens()+2)
		h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 10))
		h.d.WriteLines(id, fakedocker.Stderr, w.next(fakedocker.Stderr, 10))
		w.expect(&h.sink.Checker)
		h.waitChecker()
		h.exact()

		if held.Load() == 0 {
			t.Error("no batch was held across a rotation")
		}
		if n := h.api.opens(); n < rounds/5+2 {
			t.Errorf("only %d stream opens: rotation did not happen", n)
		}
		if n := h.counter("stream_rotations", "reason", "rotation"); n == 0 {
			t.Error("no rotation counted")
		}
		if n := h.counter("cursor_gaps", "", ""); n != 0 {
			t.Errorf("cursor_gaps %d", n)
		}
		if n := h.counter("records_dropped", "", ""); n != 0 {
			t.Errorf("records_dropped %d", n)
		}
		if n := h.counter("duplicates_skipped", "", ""); n == 0 {
			t.Error("no replayed message was skipped: the reopens did not exercise the cursor")
		}
		if n := h.counter("lines_merged", "", ""); n == 0 {
			t.Error("split lines were not counted as merged")
		}
		for _, r := range h.sink.Records() {
			if r.Container != "web" || r.ID != id {
				t.Fatalf("record with resource %q %q", r.Container, r.ID)
			}
		}
	})
}

// TestRefusingConsumer: the consumer refuses the first batches with a
// plain (retryable) error; the follower retries the same batch with
// backoff, without reading on, and nothing is lost or duplicated once the
// consumer accepts. With rotation on, the retries outlast several rotation
// intervals.
func TestRefusingConsumer(t *testing.T) {
	for _, rotation := range []time.Duration{0, 50 * time.Millisecond} {
		name := "no rotation"
		if rotation > 0 {
			name = "across rotations"
		}
		t.Run(name, func(t *testing.T) {
			engines(t, func(t *testing.T, engine string) {
				h := newHarness(t, engine)
				h.set.RotationInterval = rotation
				const refusals = 6 // 10+20+40+80+100+100 ms of backoff
				calls, waitRefused := h.refuseFirst(refusals)
				id := h.add(fakedocker.Container{Name: "web"})
				w := &lines{src: "web"}
				for i := range 300 {
					h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
					if i%7 == 0 {
						h.d.WriteLines(id, fakedocker.Stderr, w.next(fakedocker.Stderr, 20))
					}
				}
				g := h.group()
				g.Upsert(h.inspect(id), false)

				// More lines while the consumer refuses.
				waitRefused()
				for range 5 {
					var es []fakedocker.Entry
					now := time.Now()
					for range 50 {
						es = append(es, w.entry(fakedocker.Stdout, 30, now))
					}
					es = append(es, w.entry(fakedocker.Stderr, 30, now.Add(-3*time.Millisecond)))
					h.d.WriteEntries(id, es...)
				}
				w.expect(&h.sink.Checker)
				h.waitChecker()
				if rotation > 0 {
					h.api.waitOpens(t, h.api.opens()+2)
				}
				h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 10))
				w.expect(&h.sink.Checker)
				h.waitChecker()
				h.exact()

				if c := calls.Load(); c <= refusals {
					t.Errorf("%d ConsumeLogs calls, want more than the %d refusals", c, refusals)
				}
				if n := h.counter("records_dropped", "", ""); n != 0 {
					t.Errorf("records_dropped %d for retryable refusals", n)
				}
			})
		})
	}
}

// TestPermanentErrorDropsBatch: a permanent error drops that batch (counted
// in records_dropped) and does not stop the lines that follow; the dropped
// lines are not read again after a rotation.
func TestPermanentErrorDropsBatch(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		var mu sync.Mutex
		var dropped []string
		rejected := make(chan struct{})
		var first atomic.Bool
		first.Store(true)
		h.set.Consumer = &tap{next: h.sink, f: func(ld plog.Logs) error {
			if !first.Swap(false) {
				return nil
			}
			mu.Lock()
			dropped = bodies(ld)
			mu.Unlock()
			close(rejected)
			return consumererror.NewPermanent(errors.New("malformed"))
		}}
		id := h.add(fakedocker.Container{Name: "web"})
		w := &lines{src: "web"}
		for range 10 {
			h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
		}
		g := h.group()
		g.Upsert(h.inspect(id), false)
		select {
		case <-rejected:
		case <-time.After(waitTimeout):
			t.Fatal("no batch reached the consumer")
		}
		mu.Lock()
		k := len(dropped)
		mu.Unlock()
		if k == 0 {
			t.Fatal("empty batch dropped")
		}

		for range 10 {
			h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
		}
		h.waitRecords(20 - k)
		// Rotations after the drop must not bring the dropped lines back.
		h.api.waitOpens(t, h.api.opens()+2)
		h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
		h.waitRecords(21 - k)

		if got := seqs(h.sink.Records(), "stdout"); !equalInts(got, span(k+1, 21)) {
			t.Errorf("delivered seqs %v, want %d..21", got, k+1)
		}
		var droppedSeqs []int
		for _, b := range dropped {
			l, err := seqcheck.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			droppedSeqs = append(droppedSeqs, l.Seq)
		}
		if !equalInts(droppedSeqs, span(1, k)) {
			t.Errorf("dropped seqs %v, want 1..%d", droppedSeqs, k)
		}
		if n := h.counter("records_dropped", "", ""); n != int64(k) {
			t.Errorf("records_dropped %d, want %d", n, k)
		}
		if n := h.counter("stream_errors", "error.type", "consumer"); n != 1 {
			t.Errorf("stream_errors{error.type=consumer} %d, want 1", n)
		}
	})
}

// TestUnsupportedDriver: a container whose log cannot be read (HTTP 501)
// ends its follower with ErrUnsupported; the Group counts it once, forgets
// it and never retries it.
func TestUnsupportedDriver(t *testing.T) {
	for _, tc := range []struct {
		name      string
		beginning bool
		atStartup bool
	}{
		{"stream", true, false},
		{"start at end", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, modern)
			h.set.StartAtBeginning = tc.beginning
			id := h.add(fakedocker.Container{Name: "silent", LogDriver: "none"})
			c := h.inspect(id)
			if c.LogDriver != "none" {
				t.Fatalf("log driver %q", c.LogDriver)
			}
			g := h.group()
			g.Upsert(c, tc.atStartup)
			h.waitLogged("not collecting this container")

			if n := h.counter("containers_unsupported", "", ""); n != 1 {
				t.Errorf("containers_unsupported %d, want 1", n)
			}
			if ids := g.IDs(); len(ids) != 0 {
				t.Errorf("IDs %v after the follower ended", ids)
			}
			// Discovery reports it again at every resync: no new attempt.
			g.Upsert(c, false)
			g.Upsert(c, true)
			if ids := g.IDs(); len(ids) != 0 {
				t.Errorf("IDs %v: an unsupported container was followed again", ids)
			}
			// Every follower has returned although the context lives on:
			// nothing keeps retrying.
			waitDone(t, "Group.Wait with the context alive", g.Wait)
			if n := len(h.d.RequestsTo("/containers/" + id + "/logs")); n != 1 {
				t.Errorf("%d /logs requests, want exactly 1", n)
			}
			if n := h.counter("containers_unsupported", "", ""); n != 1 {
				t.Errorf("containers_unsupported %d after more upserts, want 1", n)
			}
			if n := h.counter("containers_watched", "", ""); n != 0 {
				t.Errorf("containers_watched %d, want 0", n)
			}
		})
	}
}

func TestRunReturnsErrUnsupported(t *testing.T) {
	h := newHarness(t, modern)
	id := h.add(fakedocker.Container{Name: "silent", LogDriver: "none"})
	f := New(h.set, h.inspect(id), Start{})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := f.Run(ctx, nil); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Run: %v, want ErrUnsupported", err)
	}
	// The start position is committed at once (a restart resumes there);
	// nothing was read, so it never moved.
	if p := f.Committed(); p == nil || *p != (cursor.Position{}) {
		t.Errorf("Committed %v, want the start position", p)
	}
}

// TestStreamCutMidFrame: the first log stream is cut inside a frame; the
// follower reopens at its position and nothing is lost or duplicated.
func TestStreamCutMidFrame(t *testing.T) {
	for _, tc := range []struct {
		name string
		// cut returns the byte offset to cut the first response at, given
		// the frame sizes of the stored log.
		cut   func(frames []int) int
		split bool
	}{
		{"in a payload", func(fr []int) int { return sum(fr[:20]) + 8 + 5 }, false},
		{"in a header", func(fr []int) int { return sum(fr[:33]) + 3 }, false},
		{"between frames", func(fr []int) int { return sum(fr[:12]) }, false},
		{"between the parts of a split line", func(fr []int) int { return sum(fr[:27]) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			engines(t, func(t *testing.T, engine string) {
				h := newHarness(t, engine)
				h.set.RotationInterval = 0 // only the cut reopens
				id := h.add(fakedocker.Container{Name: "web"})
				w := &lines{src: "web"}
				for i := range 50 {
					if tc.split && i == 25 {
						h.d.WriteSplit(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 200), 60) // frames 25-28
						continue
					}
					s := fakedocker.Stdout
					if i%4 == 3 {
						s = fakedocker.Stderr
					}
					h.d.WriteLines(id, s, w.next(s, 30+i))
				}
				var frames []int
				for _, e := range h.d.Entries(id) {
					frames = append(frames, 8+len(fakedocker.FormatLine(e, true)))
				}
				cutAt := tc.cut(frames)
				var n atomic.Int32
				h.d.SetLogsFault(func(_ fakedocker.Request, fw *fakedocker.FaultWriter) bool {
					if n.Add(1) == 1 {
						fw.CutAfter(cutAt)
						return true
					}
					return false
				})

				g := h.group()
				g.Upsert(h.inspect(id), false)
				w.expect(&h.sink.Checker)
				h.waitChecker()
				h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 10))
				h.d.WriteLines(id, fakedocker.Stderr, w.next(fakedocker.Stderr, 10))
				w.expect(&h.sink.Checker)
				h.waitChecker()
				h.exact()

				if n := h.api.opens(); n < 2 {
					t.Errorf("%d stream opens, want a reopen after the cut", n)
				}
				if n := h.counter("stream_errors", "error.type", "read"); n < 1 {
					t.Errorf("stream_errors{error.type=read} %d, want the cut counted", n)
				}
				if n := h.counter("cursor_gaps", "", ""); n != 0 {
					t.Errorf("cursor_gaps %d", n)
				}
			})
		})
	}
}

func sum(a []int) int {
	s := 0
	for _, v := range a {
		s += v
	}
	return s
}

// TestCommittedAfterAccept drives a Follower directly: its committed
// position stays put while the consumer refuses, advances only once a
// batch was accepted, and a new follower resumed from it delivers exactly
// the lines written after it.
func TestCommittedAfterAccept(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		h.set.RotationInterval = 0
		id := h.add(fakedocker.Container{Name: "web"})
		c := h.inspect(id)
		f := New(h.set, c, Start{})

		var accept atomic.Bool
		refused := make(chan struct{}, 100)
		type call struct {
			committed *cursor.Position
			accepted  bool
			n         int
		}
		var mu sync.Mutex
		var calls []call
		h.set.Consumer = &tap{next: h.sink, f: func(ld plog.Logs) error {
			ok := accept.Load()
			mu.Lock()
			calls = append(calls, call{committed: f.Committed(), accepted: ok, n: ld.LogRecordCount()})
			mu.Unlock()
			if !ok {
				refused <- struct{}{}
				return errBusy
			}
			return nil
		}}

		w := &lines{src: "web"}
		ts := h.d.WriteLines(id, fakedocker.Stdout,
			w.next(fakedocker.Stdout, 10), w.next(fakedocker.Stdout, 10), w.next(fakedocker.Stdout, 10))
		stop := h.run(f, nil)

		for range 3 {
			select {
			case <-refused:
			case <-time.After(waitTimeout):
				t.Fatal("the follower did not offer a batch")
			}
		}
		if p := f.Committed(); p == nil || *p != (cursor.Position{}) {
			t.Fatalf("Committed %+v while the consumer refuses, want the start position", p)
		}
		accept.Store(true)
		h.waitRecords(3)

		// The next batch sees what the previous ones committed.
		ts4 := h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 10))[0]
		h.waitRecords(4)
		mu.Lock()
		last := calls[len(calls)-1]
		var firstAccepted *call
		for i := range calls {
			if calls[i].accepted {
				firstAccepted = &calls[i]
				break
			}
		}
		start := cursor.Position{}
		for _, cl := range calls[:len(calls)-1] {
			if !cl.accepted && (cl.committed == nil || *cl.committed != start) {
				t.Errorf("a refused call saw Committed %+v, want the start position", cl.committed)
			}
		}
		mu.Unlock()
		if firstAccepted == nil || firstAccepted.committed == nil || *firstAccepted.committed != start {
			t.Errorf("the first accepted batch was offered with Committed past the start position: %+v", firstAccepted)
		}
		if last.committed == nil {
			t.Fatal("Committed still nil after a batch was accepted")
		}
		if got, want := last.committed.MaxTimestamp, ts[2].UnixNano(); got != want {
			t.Errorf("Committed.MaxTimestamp %d, want %d (the last accepted line)", got, want)
		}

		// Line 5 shares line 4's timestamp; then the follower stops.
		h.d.Write(id, fakedocker.Entry{Time: ts4, Stream: fakedocker.Stdout, Text: []byte(w.next(fakedocker.Stdout, 10))})
		h.waitRecords(5)
		// A sixth line makes sure the fifth's batch was committed before we stop.
		h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 10))
		h.waitRecords(6)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		p := f.Committed()
		if p == nil {
			t.Fatal("no committed position")
		}
		w.expect(&h.sink.Checker)
		h.exact()

		// A restarted collector resumes from the committed position: lines
		// written while it was down arrive, nothing before them again.
		set2 := *h.set
		sink2 := &logsink.Sink{}
		set2.Consumer = sink2
		h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 10), w.next(fakedocker.Stdout, 10))
		f2 := New(&set2, c, Start{Position: *p})
		stop2 := h.run(f2, nil)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := sink2.WaitFor(ctx, 2); err != nil {
			t.Fatal(err)
		}
		// One more line after the resumed batch, so a late duplicate would show.
		h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 10))
		if err := sink2.WaitFor(ctx, 3); err != nil {
			t.Fatal(err)
		}
		_ = stop2()
		if got := seqs(sink2.Records(), "stdout"); !equalInts(got, span(7, 9)) {
			t.Errorf("resumed follower delivered %v, want 7..9", got)
		}
	})
}

// TestSharedPoolExactlyOnce: three containers share one stream slot; each
// yields it at rotation and waits its turn, losing and repeating nothing.
func TestSharedPoolExactlyOnce(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		h.set.Pool = pool.New(1)
		names := []string{"a", "b", "c"}
		ids := make([]string, len(names))
		ws := make([]*lines, len(names))
		for i, n := range names {
			ids[i] = h.add(fakedocker.Container{Name: n})
			ws[i] = &lines{src: n}
		}
		g := h.group()
		for _, id := range ids {
			g.Upsert(h.inspect(id), false)
		}
		for r := range 12 {
			for i, id := range ids {
				now := time.Now()
				var es []fakedocker.Entry
				for range 20 {
					es = append(es, ws[i].entry(fakedocker.Stdout, 15, now))
				}
				es = append(es, ws[i].entry(fakedocker.Stderr, 15, now.Add(-2*time.Millisecond)))
				h.d.WriteEntries(id, es...)
			}
			if r%3 == 2 {
				// Every container had a turn since the last writes.
				h.api.waitOpens(t, h.api.opens()+len(ids))
			}
		}
		for _, w := range ws {
			w.expect(&h.sink.Checker)
		}
		h.waitChecker()
		h.api.waitOpens(t, h.api.opens()+2*len(ids))
		for i, id := range ids {
			h.d.WriteLines(id, fakedocker.Stdout, ws[i].next(fakedocker.Stdout, 10))
			ws[i].expect(&h.sink.Checker)
		}
		h.waitChecker()
		h.exact()
		if n := h.set.Pool.InUse(); n > 1 {
			t.Errorf("pool in use %d, capacity 1", n)
		}
	})
}

// TestCutWhileLineHalfAssembled: a stdout line split into parts has stderr
// lines between its parts. A cut after such a stderr line leaves the
// stdout line half assembled: the position is the point before it, and the
// stderr lines completed since are rebuilt by the replay and dropped
// (skip_lines). A second cut while the replay is still rebuilding must keep
// that count.
func TestCutWhileLineHalfAssembled(t *testing.T) {
	for _, tc := range []struct {
		name string
		cuts []string // per request, the entry after whose frame the response is cut
	}{
		{"after the first stderr line", []string{"E1"}},
		{"after the second stderr line", []string{"E2"}},
		{"after the last part", []string{"S6c"}},
		{"again during the replay", []string{"E1", "S6a"}},
		{"again after the replayed stderr line", []string{"E2", "E1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			engines(t, func(t *testing.T, engine string) {
				h := newHarness(t, engine)
				h.set.RotationInterval = 0
				id := h.add(fakedocker.Container{Name: "web"})
				w := &lines{src: "web"}
				t0 := time.Now()
				us := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Microsecond) }
				var es []fakedocker.Entry
				names := map[string]int{}
				add := func(name string, e fakedocker.Entry) {
					names[name] = len(es)
					es = append(es, e)
				}
				for i := 1; i <= 5; i++ {
					add("", w.entry(fakedocker.Stdout, 20, us(i)))
				}
				s6 := w.next(fakedocker.Stdout, 120)
				add("S6a", fakedocker.Entry{Time: us(6), Stream: fakedocker.Stdout, Text: []byte(s6[:40]), Partial: true})
				add("E1", w.entry(fakedocker.Stderr, 20, us(6).Add(500)))
				add("S6b", fakedocker.Entry{Time: us(6), Stream: fakedocker.Stdout, Text: []byte(s6[40:80]), Partial: true})
				add("E2", w.entry(fakedocker.Stderr, 20, us(6).Add(700)))
				add("S6c", fakedocker.Entry{Time: us(6), Stream: fakedocker.Stdout, Text: []byte(s6[80:])})
				add("", w.entry(fakedocker.Stdout, 20, us(8)))
				add("", w.entry(fakedocker.Stderr, 20, us(9)))
				h.d.WriteEntries(id, es...)

				mode := h.d.SinceMode()
				var n atomic.Int32
				h.d.SetLogsFault(func(req fakedocker.Request, fw *fakedocker.FaultWriter) bool {
					i := int(n.Add(1)) - 1
					if i >= len(tc.cuts) {
						return false
					}
					// Which entries the daemon sends for this since, and
					// where the named one ends among them.
					var since time.Time
					if s := req.Query.Get("since"); s != "" {
						var err error
						if since, err = parseSince(s); err != nil {
							t.Error(err)
						}
					}
					off, skipping := 0, true
					for k, e := range es {
						if !since.IsZero() && e.Time.Before(since) && (skipping || mode == fakedocker.SinceFilter) {
							continue
						}
						skipping = false
						off += 8 + len(fakedocker.FormatLine(e, true))
						if k == names[tc.cuts[i]] {
							fw.CutAfter(off)
							return true
						}
					}
					t.Errorf("request %d: %s is not sent for since=%q", i+1, tc.cuts[i], req.Query.Get("since"))
					return false
				})

				g := h.group()
				g.Upsert(h.inspect(id), false)
				w.expect(&h.sink.Checker)
				h.waitChecker()
				h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 10))
				h.d.WriteLines(id, fakedocker.Stderr, w.next(fakedocker.Stderr, 10))
				w.expect(&h.sink.Checker)
				h.waitChecker()
				h.exact()
				if got := n.Load(); int(got) < len(tc.cuts)+1 {
					t.Errorf("%d log requests, want %d", got, len(tc.cuts)+1)
				}
				for _, r := range h.sink.Records() {
					if r.Attrs["docker.log.truncated"] != nil {
						t.Errorf("record flagged truncated: %q", r.Body)
					}
				}
			})
		})
	}
}

// parseSince parses the "sec.nanos" since parameter.
func parseSince(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	a, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	frac = (frac + "000000000")[:9]
	b, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(a, b), nil
}
