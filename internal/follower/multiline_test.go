package follower

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/checkpoint"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/multiline"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/storetest"
)

// groupByStart makes every container's lines group by a line_start_pattern.
func (h *harness) groupByStart(flush time.Duration) {
	h.t.Helper()
	r, err := multiline.Config{LineStartPattern: `^start`, FlushTimeout: flush}.Compile()
	if err != nil {
		h.t.Fatal(err)
	}
	h.set.Multiline = func(docker.Container) *multiline.Rules { return r }
}

// bodiesOf lists the delivered bodies of one stream, in order.
func bodiesOf(recs []logsink.Record, stream string) []string {
	var out []string
	for _, r := range recs {
		if r.Stream == stream {
			out = append(out, r.Body)
		}
	}
	return out
}

// waitBodies waits until stdout and stderr delivered as many records as
// want holds, then compares them.
func (h *harness) waitBodies(want [2][]string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_ = h.sink.WaitFor(ctx, len(want[0])+len(want[1]))
	recs := h.sink.Records()
	for i, s := range []string{"stdout", "stderr"} {
		if got := bodiesOf(recs, s); !slices.Equal(got, want[i]) {
			h.t.Fatalf("%s records:\n got %q\nwant %q", s, got, want[i])
		}
	}
}

// TestMultilineExactAcrossRotations: streams rotate in the middle of each
// group; every group still arrives once and whole, and the other stream's
// lines, emitted while a group is held, are not repeated.
func TestMultilineExactAcrossRotations(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		h.groupByStart(5 * time.Second)
		id := h.add(fakedocker.Container{Name: "ml"})
		h.group().Upsert(h.inspect(id), false)
		var want [2][]string
		for i := range 12 {
			body := []string{fmt.Sprintf("start %d", i)}
			h.d.WriteLines(id, fakedocker.Stdout, body[0])
			for j := range 3 {
				// A rotation between two lines of the group.
				h.api.waitOpens(t, h.api.opens()+1)
				body = append(body, fmt.Sprintf("  at %d.%d", i, j))
				h.d.WriteLines(id, fakedocker.Stdout, body[len(body)-1])
				// Each stderr line starts a record too, emitted when the
				// next one comes.
				e := fmt.Sprintf("start e%d.%d", i, j)
				h.d.WriteLines(id, fakedocker.Stderr, e)
				want[1] = append(want[1], e)
			}
			want[0] = append(want[0], strings.Join(body, "\n"))
		}
		h.d.WriteLines(id, fakedocker.Stdout, "start end")
		h.d.WriteLines(id, fakedocker.Stderr, "start end")
		h.waitBodies(want) // the last groups stay pending
	})
}

// TestMultilineFlushTimeout: a group no line continues is emitted after
// the flush timeout although the stream never rotates and the container
// keeps running; what follows is neither lost nor repeated.
func TestMultilineFlushTimeout(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		h.set.RotationInterval = 0
		h.groupByStart(100 * time.Millisecond)
		id := h.add(fakedocker.Container{Name: "quiet"})
		h.group().Upsert(h.inspect(id), false)
		h.d.WriteLines(id, fakedocker.Stdout, "start 1", "  at 1")
		want := [2][]string{{"start 1\n  at 1"}}
		h.waitBodies(want)
		h.d.WriteLines(id, fakedocker.Stdout, "start 2", "  at 2")
		h.d.WriteLines(id, fakedocker.Stderr, "start e")
		want[0] = append(want[0], "start 2\n  at 2")
		want[1] = []string{"start e"}
		h.waitBodies(want)
		if n := h.counter("stream_rotations", "reason", "multiline_flush"); n < 1 {
			t.Fatalf("%d streams ended for a flush, want at least 1", n)
		}
	})
}

// TestMultilineFlushedWhenTheContainerStops: the last group of a run is
// emitted when the container stops, long before the flush timeout.
func TestMultilineFlushedWhenTheContainerStops(t *testing.T) {
	h := newHarness(t, modern)
	h.groupByStart(time.Hour)
	id := h.add(fakedocker.Container{Name: "exits"})
	h.group().Upsert(h.inspect(id), false)
	h.d.WriteLines(id, fakedocker.Stdout, "start 1", "  at 1", "start 2", "  at 2")
	h.waitBodies([2][]string{{"start 1\n  at 1"}})
	h.d.Stop(id)
	h.waitBodies([2][]string{{"start 1\n  at 1", "start 2\n  at 2"}})
}

// TestMultilineAcrossCollectorRestart: a collector stops in the middle of a
// group; the next one, on the same store, emits the whole group once and
// does not repeat what the first one delivered.
func TestMultilineAcrossCollectorRestart(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		h.groupByStart(time.Hour)
		ctx := context.Background()
		dir := t.TempDir()
		openStore := func() *checkpoint.Store {
			cl, err := storetest.NewFileExtension(dir).GetClient(ctx, component.KindReceiver, component.MustNewID("dockerlogsrotating"), "")
			if err != nil {
				t.Fatal(err)
			}
			s, err := checkpoint.Open(ctx, cl, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		id := h.add(fakedocker.Container{Name: "restart"})
		h.d.WriteLines(id, fakedocker.Stdout, "start 0", "  at 0.0")

		h.set.Store = openStore()
		saver := checkpoint.NewSaver(h.set.Store, h.set.Logger, 0)
		h.set.Positions = saver
		gctx, stop := context.WithCancel(ctx)
		g := NewGroup(gctx, h.set)
		g.Upsert(h.inspect(id), true)
		h.d.WriteLines(id, fakedocker.Stdout, "  at 0.1")
		h.d.WriteLines(id, fakedocker.Stderr, "start e0", "start e0b")
		// e0 was written after the group's lines: delivered, it proves
		// they were read.
		h.waitBodies([2][]string{nil, {"start e0"}})
		stop()
		waitDone(t, "first group", g.Wait)
		if err := saver.Close(); err != nil {
			t.Fatal(err)
		}
		_ = h.set.Store.Close(ctx)

		h.d.WriteLines(id, fakedocker.Stdout, "  at 0.2", "start 1")
		h.d.WriteLines(id, fakedocker.Stderr, "start e1")
		h.set.Store = openStore()
		t.Cleanup(func() { _ = h.set.Store.Close(ctx) })
		saver = checkpoint.NewSaver(h.set.Store, h.set.Logger, 0)
		t.Cleanup(func() { _ = saver.Close() }) // after the group's cleanup
		h.set.Positions = saver
		h.group().Upsert(h.inspect(id), true)
		h.waitBodies([2][]string{{"start 0\n  at 0.0\n  at 0.1\n  at 0.2"}, {"start e0", "start e0b"}})
	})
}

// TestMultilineFlushTimeoutWithFasterRotation: streams rotate more often
// than the flush timeout while a quiet container's group is pending. Each
// reopen replays the group's lines; the replay must not postpone the flush,
// or the group would be held as long as the container stays quiet.
func TestMultilineFlushTimeoutWithFasterRotation(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		h.set.RotationInterval = 50 * time.Millisecond
		h.groupByStart(300 * time.Millisecond)
		id := h.add(fakedocker.Container{Name: "quiet"})
		h.group().Upsert(h.inspect(id), false)
		h.d.WriteLines(id, fakedocker.Stdout, "start 1", "  at 1")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.sink.WaitFor(ctx, 1); err != nil {
			t.Fatalf("the group was not flushed within 5 s (flush timeout 300 ms, %d rotations): %v",
				h.counter("stream_rotations", "reason", "rotation"), err)
		}
		h.waitBodies([2][]string{{"start 1\n  at 1"}})
	})
}

// TestMultilineGroupOutlivesABlockedConsumer: time spent waiting for the
// consumer is not time without lines. A group whose next line the daemon
// already sent while the consumer refused for longer than the flush
// timeout still gets that line; nor does another stream's busy traffic
// hold a group past the flush timeout by the daemon's stamps.
func TestMultilineGroupOutlivesABlockedConsumer(t *testing.T) {
	engines(t, func(t *testing.T, engine string) {
		h := newHarness(t, engine)
		h.set.RotationInterval = 0
		h.groupByStart(300 * time.Millisecond)
		id := h.add(fakedocker.Container{Name: "blocked"})
		var first time.Time
		var once sync.Once
		h.sink.Refuse = func() error {
			once.Do(func() {
				// The batch with "start 0" is offered: "start 1" is
				// pending, and its next line comes now.
				first = time.Now()
				h.d.WriteLines(id, fakedocker.Stdout, "  at 1")
			})
			if time.Since(first) < time.Second {
				return errBusy
			}
			return nil
		}
		h.group().Upsert(h.inspect(id), false)
		h.d.WriteLines(id, fakedocker.Stdout, "start 0", "start 1")
		h.waitBodies([2][]string{{"start 0"}})
		h.d.WriteLines(id, fakedocker.Stdout, "start 2")
		h.waitBodies([2][]string{{"start 0", "start 1\n  at 1"}})
	})
}

// TestMultilineStaleByTheDaemonsStamps: a group no line continued within
// the flush timeout, by the daemon's stamps, is emitted when a later line
// of the other stream shows it, although that stream keeps the reader busy.
func TestMultilineStaleByTheDaemonsStamps(t *testing.T) {
	h := newHarness(t, modern)
	h.set.RotationInterval = 0
	h.groupByStart(time.Hour) // only the stamps can end the group
	id := h.add(fakedocker.Container{Name: "stamps"})
	h.group().Upsert(h.inspect(id), false)
	t0 := time.Now()
	h.d.WriteEntries(id,
		fakedocker.Entry{Time: t0, Stream: fakedocker.Stdout, Text: []byte("start 1")},
		fakedocker.Entry{Time: t0.Add(time.Millisecond), Stream: fakedocker.Stdout, Text: []byte("  at 1")},
		fakedocker.Entry{Time: t0.Add(2 * time.Hour), Stream: fakedocker.Stderr, Text: []byte("start e")})
	h.waitBodies([2][]string{{"start 1\n  at 1"}})
}
