package follower

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/batch"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/checkpoint"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/storetest"
)

// TestStopAndRestart: a container that stops is waited for; the line it
// left unfinished is emitted when its run ends; after a restart the
// follower reads the new run from its position, without repeating anything.
func TestStopAndRestart(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		id := h.add(fakedocker.Container{Name: "web"})
		g := h.group()
		g.Upsert(h.inspect(id), false)

		w := &lines{src: "web"}
		for range 5 {
			h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
		}
		// The run ends in the middle of a line: no '\n' ever comes.
		h.d.Write(id, fakedocker.Entry{Stream: fakedocker.Stdout, Text: []byte(w.next(fakedocker.Stdout, 20)), Partial: true})
		h.waitRecords(5)
		h.d.Stop(id)
		h.waitRecords(6)

		h.api.waitOpens(t, 1)
		opens := h.api.opens()
		h.d.Start(id)
		for range 5 {
			h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
		}
		h.d.WriteLines(id, fakedocker.Stderr, w.next(fakedocker.Stderr, 20))
		g.Upsert(h.inspect(id), false) // discovery saw the start event
		w.expect(&h.sink.Checker)
		h.waitChecker()
		h.api.waitOpens(t, max(h.api.opens(), opens+1)+2)
		h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
		w.expect(&h.sink.Checker)
		h.waitChecker()
		h.exact()
		if ids := g.IDs(); len(ids) != 1 || ids[0] != id {
			t.Errorf("IDs %v, want [%s]", ids, id)
		}
	})
}

// TestRemoveEndsFollower: a removed container's stream is read to its end,
// then its follower returns without the group's context ending.
func TestRemoveEndsFollower(t *testing.T) {
	for _, stopFirst := range []bool{false, true} {
		name := "running"
		if stopFirst {
			name = "stopped"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, modern)
			// A rotation between the open and the removal would leave the
			// rest unread (the log is gone with the container).
			h.set.RotationInterval = 0
			id := h.add(fakedocker.Container{Name: "web"})
			g := h.group()
			g.Upsert(h.inspect(id), false)
			h.api.waitOpens(t, 1) // the stream is open: what follows is read before it ends
			w := &lines{src: "web"}
			for range 20 {
				h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
			}
			if stopFirst {
				h.d.Stop(id)
				h.waitRecords(20)
				g.Remove(id)
			} else {
				// Removed while the stream is open, with lines unread.
				h.d.Remove(id)
				g.Remove(id)
			}
			if ids := g.IDs(); len(ids) != 0 {
				t.Errorf("IDs %v after Remove", ids)
			}
			waitDone(t, "the follower of a removed container to return", g.Wait)
			w.expect(&h.sink.Checker)
			h.waitChecker()
			h.exact()
			if n := h.counter("containers_watched", "", ""); n != 0 {
				t.Errorf("containers_watched %d, want 0", n)
			}
		})
	}
}

// TestRenameChangesResource: an Upsert with a new name changes the
// resource of the batches that follow.
func TestRenameChangesResource(t *testing.T) {
	h := newHarness(t, modern)
	id := h.add(fakedocker.Container{Name: "web"})
	g := h.group()
	g.Upsert(h.inspect(id), false)
	w := &lines{src: "web"}
	for range 3 {
		h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
	}
	h.waitRecords(3)
	h.d.Rename(id, "web-renamed")
	g.Upsert(h.inspect(id), false)
	for range 3 {
		h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
	}
	h.waitRecords(6)
	for i, r := range h.sink.Records() {
		want := "web"
		if i >= 3 {
			want = "web-renamed"
		}
		if r.Container != want || r.ID != id {
			t.Errorf("record %d: container.name %q id %.12s, want %q", i, r.Container, r.ID, want)
		}
	}
	if ids := g.IDs(); len(ids) != 1 {
		t.Errorf("IDs %v: a rename must not start a second follower", ids)
	}
}

// TestStartAtEnd: a container found at startup is read from the end of its
// log when start_at is end, and every stream, the first included, opens
// with a tail window: the end position is anchored on the last message.
func TestStartAtEnd(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		h.set.StartAtBeginning = false
		h.set.ReopenTail = 1000
		old := h.add(fakedocker.Container{Name: "old"})
		empty := h.add(fakedocker.Container{Name: "empty"})
		w := &lines{src: "old"}
		for range 5 {
			h.d.WriteLines(old, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
		}
		e := &lines{src: "empty"}
		g := h.group()
		g.Upsert(h.inspect(old), true)
		g.Upsert(h.inspect(empty), true)
		h.api.waitOpens(t, 2) // the end was taken before the streams opened
		for range 3 {
			h.d.WriteLines(old, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
			h.d.WriteLines(empty, fakedocker.Stdout, e.next(fakedocker.Stdout, 20))
		}
		h.waitRecords(6)
		var oldSeqs, emptySeqs []int
		for _, r := range h.sink.Records() {
			l, err := seqcheck.Parse(r.Body)
			if err != nil {
				t.Fatal(err)
			}
			if r.Container == "old" {
				oldSeqs = append(oldSeqs, l.Seq)
			} else {
				emptySeqs = append(emptySeqs, l.Seq)
			}
		}
		if !equalInts(oldSeqs, span(6, 8)) {
			t.Errorf("old: delivered %v, want 6..8 (history skipped)", oldSeqs)
		}
		if !equalInts(emptySeqs, span(1, 3)) {
			t.Errorf("empty: delivered %v, want 1..3", emptySeqs)
		}
		h.api.waitOpens(t, 6) // reopens after rotations
		follows := 0
		for _, r := range h.d.RequestsTo("/containers/" + old + "/logs") {
			if r.Query.Get("follow") != "1" {
				continue
			}
			follows++
			if r.Query.Get("since") == "" || r.Query.Get("tail") == "" {
				t.Errorf("old: follow request without since and tail: %v", r.Query)
			}
		}
		if follows < 2 {
			t.Errorf("old: %d follow requests, want reopens", follows)
		}
	})
}

// TestStartAtCurrentRun: without start_at beginning, a container started
// after the receiver is read from the start of its current run.
func TestStartAtCurrentRun(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		h.set.StartAtBeginning = false
		id := h.add(fakedocker.Container{Name: "web"})
		h.d.WriteLines(id, fakedocker.Stdout, "previous run 1", "previous run 2")
		h.d.Stop(id)
		h.d.Start(id)
		w := &lines{src: "web"}
		for range 4 {
			h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
		}
		g := h.group()
		g.Upsert(h.inspect(id), false)
		w.expect(&h.sink.Checker)
		h.waitChecker()
		h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
		w.expect(&h.sink.Checker)
		h.waitChecker()
		h.exact()
	})
}

// TestExitedBeforeDiscovery: a container that ran and exited before
// discovery looked is read; one that never ran is not followed.
func TestExitedBeforeDiscovery(t *testing.T) {
	h := newHarness(t, modern)
	id := h.add(fakedocker.Container{Name: "job"})
	w := &lines{src: "job"}
	for range 7 {
		h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
	}
	h.d.Stop(id)
	h.d.AddContainer(fakedocker.Container{Name: "never"})
	never := h.d.ContainerID("never")

	g := h.group()
	nc := h.inspect(never)
	g.Upsert(nc, false)
	if ids := g.IDs(); len(ids) != 0 {
		t.Errorf("a container that never ran is followed: %v", ids)
	}
	g.Upsert(h.inspect(id), false)
	w.expect(&h.sink.Checker)
	h.waitChecker()
	h.exact()
	if n := len(h.d.RequestsTo("/containers/" + never + "/logs")); n != 0 {
		t.Errorf("%d log requests for a container that never ran", n)
	}
}

// TestTTY: a TTY container's raw stream is decoded and its "\r\n" line
// endings are trimmed, across rotations.
func TestTTY(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		id := h.add(fakedocker.Container{Name: "tty", TTY: true})
		g := h.group()
		g.Upsert(h.inspect(id), false)
		w := &lines{src: "tty"}
		for r := range 6 {
			var es []fakedocker.Entry
			now := time.Now()
			for range 30 {
				es = append(es, fakedocker.Entry{Time: now, Stream: fakedocker.Stdout, Text: []byte(w.next(fakedocker.Stdout, 25) + "\r")})
			}
			h.d.WriteEntries(id, es...)
			if r%2 == 1 {
				h.api.waitOpens(t, h.api.opens()+1)
			}
		}
		w.expect(&h.sink.Checker)
		h.waitChecker()
		h.api.waitOpens(t, h.api.opens()+2)
		h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 25)+"\r")
		w.expect(&h.sink.Checker)
		h.waitChecker()
		h.exact()
		for _, r := range h.sink.Records() {
			if strings.HasSuffix(r.Body, "\r") {
				t.Fatalf("body %q keeps its CR", r.Body)
			}
		}
	})
}

// TestTruncation: a line longer than MaxLogSize is emitted truncated and
// flagged; the lines after it are intact.
func TestTruncation(t *testing.T) {
	h := newHarness(t, modern)
	h.set.MaxLogSize = 1000
	id := h.add(fakedocker.Container{Name: "web"})
	long := seqcheck.Format("web", "stdout", 1, 5000, false)
	split := seqcheck.Format("web", "stdout", 2, 40000, false)
	h.d.WriteLines(id, fakedocker.Stdout, long)
	h.d.WriteSplit(id, fakedocker.Stdout, split, 0) // 16 KiB parts
	h.d.WriteLines(id, fakedocker.Stdout, "after")
	g := h.group()
	g.Upsert(h.inspect(id), false)
	h.waitRecords(3)
	recs := h.sink.Records()
	for i, want := range []string{long[:1000], split[:1000]} {
		if recs[i].Body != want {
			t.Errorf("record %d: body of %d bytes, want the first 1000 bytes", i, len(recs[i].Body))
		}
		if recs[i].Attrs[batch.AttrTruncated] != true {
			t.Errorf("record %d: attributes %v, want %s", i, recs[i].Attrs, batch.AttrTruncated)
		}
	}
	if recs[2].Body != "after" || recs[2].Attrs[batch.AttrTruncated] != nil {
		t.Errorf("record 2: %q %v, want an intact line", recs[2].Body, recs[2].Attrs)
	}
	if n := h.counter("lines_truncated", "", ""); n != 2 {
		t.Errorf("lines_truncated %d, want 2", n)
	}
}

// batchesOf runs 95 lines of size bytes through the group as one backlog
// and returns measure of every ConsumeLogs call, in order.
func batchesOf(t *testing.T, h *harness, size int, measure func(plog.Logs) int) []int {
	t.Helper()
	var mu sync.Mutex
	var got []int
	var slow sync.Once
	h.set.Consumer = &tap{next: h.sink, f: func(ld plog.Logs) error {
		// A consumer slow on its first batch lets the backlog pile up in
		// the socket, so that the reader is behind and batches fill up:
		// a reader that keeps up hands each line on alone.
		slow.Do(func() { time.Sleep(200 * time.Millisecond) })
		mu.Lock()
		got = append(got, measure(ld))
		mu.Unlock()
		return nil
	}}
	id := h.add(fakedocker.Container{Name: "web"})
	w := &lines{src: "web"}
	var texts []string
	for range 95 {
		texts = append(texts, w.next(fakedocker.Stdout, size))
	}
	h.d.WriteLines(id, fakedocker.Stdout, texts...)
	g := h.group()
	g.Upsert(h.inspect(id), false)
	w.expect(&h.sink.Checker)
	h.waitChecker()
	h.exact()
	mu.Lock()
	defer mu.Unlock()
	return append([]int(nil), got...)
}

// TestMaxBatchBytes: a batch is handed on once its text reaches
// MaxBatchBytes, however few records it holds.
func TestMaxBatchBytes(t *testing.T) {
	const size, budget = 1000, 10_000
	h := newHarness(t, modern)
	h.set.MaxBatchBytes = budget
	batchBytes := batchesOf(t, h, size, func(ld plog.Logs) int {
		n := 0
		for _, b := range bodies(ld) {
			n += len(b)
		}
		return n
	})
	full := 0
	for _, n := range batchBytes {
		if n >= budget+size+100 {
			t.Fatalf("batch bytes %v: one is over the budget %d by more than a line", batchBytes, budget)
		}
		if n >= budget {
			full++
		}
	}
	if full == 0 {
		t.Fatalf("batch bytes %v: none reached the budget, so it was never what cut a batch", batchBytes)
	}
}

// TestMaxBatch: no ConsumeLogs call carries more than MaxBatch records.
func TestMaxBatch(t *testing.T) {
	h := newHarness(t, modern)
	h.set.MaxBatch = 10
	sizes := batchesOf(t, h, 20, func(ld plog.Logs) int { return ld.LogRecordCount() })
	for _, n := range sizes {
		if n > 10 || n == 0 {
			t.Fatalf("batch sizes %v, want 1..10 each", sizes)
		}
	}
}

// TestUpsertAfterCancel: a group whose context ended starts nothing.
func TestUpsertAfterCancel(t *testing.T) {
	h := newHarness(t, modern)
	id := h.add(fakedocker.Container{Name: "web"})
	ctx, cancel := context.WithCancel(context.Background())
	g := NewGroup(ctx, h.set)
	cancel()
	g.Upsert(h.inspect(id), false)
	if ids := g.IDs(); len(ids) != 0 {
		t.Errorf("IDs %v after cancel", ids)
	}
	g.Wait()
	if n := len(h.d.RequestsTo("/containers/" + id + "/logs")); n != 0 {
		t.Errorf("%d log requests", n)
	}
}

// TestShutdownWhileStreaming: cancelling the group's context ends every
// follower promptly, including one whose consumer keeps refusing.
func TestShutdownWhileStreaming(t *testing.T) {
	h := newHarness(t, modern)
	h.sink.Refuse = func() error { return errBusy }
	busy := h.add(fakedocker.Container{Name: "busy"})
	h.d.WriteLines(busy, fakedocker.Stdout, "x")
	idle := h.add(fakedocker.Container{Name: "idle"})
	ctx, cancel := context.WithCancel(context.Background())
	g := NewGroup(ctx, h.set)
	g.Upsert(h.inspect(busy), false)
	g.Upsert(h.inspect(idle), false)
	h.api.waitOpens(t, 2)
	cancel()
	waitDone(t, "Group.Wait after cancel", g.Wait)
	if err := h.d.WaitLogStreams(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if n := h.counter("containers_watched", "", ""); n != 0 {
		t.Errorf("containers_watched %d after shutdown", n)
	}
	if n := h.counter("streams_open", "", ""); n != 0 {
		t.Errorf("streams_open %d after shutdown", n)
	}
}

// TestRestartDuringEOFInspect: the container restarts while the follower,
// whose stream ended with the stop, is still inspecting it. The inspect
// answer it gets is from before the restart, but discovery has already
// handed it the restarted container (Upsert → Update). The follower must
// read the new run without waiting for yet another Update.
func TestRestartDuringEOFInspect(t *testing.T) {

	h := newHarness(t, modern)
	h.set.RotationInterval = 0
	id := h.add(fakedocker.Container{Name: "web"})
	var armed atomic.Bool
	held := make(chan struct{})
	release := make(chan struct{})
	h.d.SetFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
		if req.Path != "/containers/"+id+"/json" || !armed.CompareAndSwap(true, false) {
			return false
		}
		w.Serve() // the state now (stopped), delivered only when the hook returns
		close(held)
		select {
		case <-release:
		case <-w.Context().Done():
		}
		return true
	})
	g := h.group()
	g.Upsert(h.inspect(id), false)
	w := &lines{src: "web"}
	h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
	h.waitRecords(1)

	armed.Store(true)
	h.d.Stop(id) // the stream ends; the follower inspects the container
	select {
	case <-held:
	case <-time.After(waitTimeout):
		t.Fatal("the follower did not inspect the stopped container")
	}
	h.d.Start(id)
	h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
	g.Upsert(h.inspect(id), false) // discovery saw the start event
	close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.sink.WaitFor(ctx, 2); err != nil {
		t.Fatalf("the restarted run was not read: %d records", len(h.sink.Records()))
	}
	w.expect(&h.sink.Checker)
	h.exact()
}

// TestSplitLineTimestampsByDriver: json-file stamps every part of a split
// line with the first part's time, so a part with another time means the
// line's end was lost and the unfinished line is emitted as it is, on its
// own; journald stamps each part with its own time and the parts are joined.
func TestSplitLineTimestampsByDriver(t *testing.T) {
	for _, tc := range []struct {
		driver string
		want   []string
		trunc  []bool
	}{
		{"json-file", []string{"first-part", "second-part", "next"}, []bool{false, false, false}},
		{"journald", []string{"first-partsecond-part", "next"}, []bool{false, false}},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			h := newHarness(t, modern)
			id := h.add(fakedocker.Container{Name: "web", LogDriver: tc.driver})
			t0 := time.Now()
			h.d.WriteEntries(id,
				fakedocker.Entry{Time: t0, Stream: fakedocker.Stdout, Text: []byte("first-part"), Partial: true},
				fakedocker.Entry{Time: t0.Add(time.Millisecond), Stream: fakedocker.Stdout, Text: []byte("second-part")},
				fakedocker.Entry{Time: t0.Add(2 * time.Millisecond), Stream: fakedocker.Stdout, Text: []byte("next")},
			)
			g := h.group()
			g.Upsert(h.inspect(id), false)
			h.waitRecords(len(tc.want))
			recs := h.sink.Records()
			if len(recs) != len(tc.want) {
				t.Fatalf("%d records, want %d", len(recs), len(tc.want))
			}
			for i, r := range recs {
				if r.Body != tc.want[i] || (r.Attrs[batch.AttrTruncated] == true) != tc.trunc[i] {
					t.Errorf("record %d: %q truncated=%v, want %q truncated=%v", i, r.Body, r.Attrs[batch.AttrTruncated], tc.want[i], tc.trunc[i])
				}
			}
			if recs[0].Timestamp != t0.UnixNano() {
				t.Errorf("timestamp %d, want the first part's %d", recs[0].Timestamp, t0.UnixNano())
			}
		})
	}
}

// TestRecordFields: records carry the daemon's timestamp, the stream, the
// body without its newline, and the container's resource.
func TestRecordFields(t *testing.T) {
	h := newHarness(t, modern)
	id := h.add(fakedocker.Container{Name: "web"})
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	h.d.WriteEntries(id,
		fakedocker.Entry{Time: t0, Stream: fakedocker.Stderr, Text: []byte("to stderr")},
		fakedocker.Entry{Time: t0.Add(1), Stream: fakedocker.Stdout, Text: []byte("bad \xff byte")},
		fakedocker.Entry{Time: t0.Add(2), Stream: fakedocker.Stdout, Text: []byte("")},
	)
	g := h.group()
	g.Upsert(h.inspect(id), false)
	h.waitRecords(3)
	recs := h.sink.Records()
	want := []struct {
		body, stream string
		ts           int64
		invalid      bool
	}{
		{"to stderr", "stderr", t0.UnixNano(), false},
		{"bad \uFFFD byte", "stdout", t0.UnixNano() + 1, true},
		{"", "stdout", t0.UnixNano() + 2, false},
	}
	for i, w := range want {
		r := recs[i]
		if r.Body != w.body || r.Stream != w.stream || r.Timestamp != w.ts || (r.Attrs[batch.AttrInvalidUTF8] == true) != w.invalid {
			t.Errorf("record %d: %+v, want %+v", i, r, w)
		}
		if r.Container != "web" || r.ID != id {
			t.Errorf("record %d: resource %q %q", i, r.Container, r.ID)
		}
	}
	if n := h.counter("lines_read", "stream", "stderr"); n != 1 {
		t.Errorf("lines_read{stream=stderr} %d, want 1", n)
	}
	if n := h.counter("lines_read", "stream", "stdout"); n != 2 {
		t.Errorf("lines_read{stream=stdout} %d, want 2", n)
	}
}

// TestCutStreamOfAStoppedContainer: discovery has marked the container
// stopped, and its stream breaks (a rotation or an error, here a cut
// connection) before it delivered the run's last lines. The run was not
// read to its end, so the follower reopens and delivers the rest instead
// of waiting for the next start.
func TestCutStreamOfAStoppedContainer(t *testing.T) {
	h := newHarness(t, modern)
	h.set.RotationInterval = 0
	id := h.add(fakedocker.Container{Name: "job"})
	w := &lines{src: "job"}
	for range 7 {
		h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
	}
	var cut atomic.Bool
	h.d.SetLogsFault(func(req fakedocker.Request, fw *fakedocker.FaultWriter) bool {
		if cut.Swap(true) {
			return false
		}
		fw.CutAfter(150) // the first line and part of the second
		return true
	})
	c := h.inspect(id)
	c.Running = false // what discovery stores on the die event
	f := New(h.set, c, Start{})
	stop := h.run(f, nil)
	defer stop()
	w.expect(&h.sink.Checker)
	h.waitChecker()
	h.exact()
}

// TestRunReadIsSaved: a stopped container read to its end is saved with
// the run it read, so that the next collector opens no stream for it.
func TestRunReadIsSaved(t *testing.T) {
	h := newHarness(t, modern)
	ctx := context.Background()
	cl, err := storetest.NewFileExtension(t.TempDir()).GetClient(ctx, component.KindReceiver, component.MustNewID("dockerlogsrotating"), "")
	if err != nil {
		t.Fatal(err)
	}
	store, err := checkpoint.Open(ctx, cl, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(ctx) })
	h.set.Store = store
	saver := checkpoint.NewSaver(store, h.set.Logger, 0)
	t.Cleanup(func() { _ = saver.Close() }) // after the group's cleanup
	h.set.Positions = saver
	id := h.add(fakedocker.Container{Name: "done"})
	w := &lines{src: "done"}
	h.d.WriteLines(id, fakedocker.Stdout, w.next(fakedocker.Stdout, 20))
	g := h.group()
	g.Upsert(h.inspect(id), false)
	w.expect(&h.sink.Checker)
	h.waitChecker()
	h.d.Stop(id)
	// The store is polled: its writes signal nothing.
	deadline := time.Now().Add(waitTimeout)
	for {
		e, ok, _ := store.Load(ctx, id)
		if ok && e.RunRead != 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("saved entry %+v (found %v): no RunRead after the container stopped", e, ok)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
