package receiver

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
)

// TestFakeShutdownCutsABlockedConsumer: the next consumer blocks (until its
// context ends) instead of refusing. Shutdown still returns within its
// deadline, leaves no goroutine (the package's goleak check), and commits
// no position for the lines the consumer never accepted.
func TestFakeShutdownCutsABlockedConsumer(t *testing.T) {
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "blocked", Image: "t:1"})
	d.WriteLines(id, fakedocker.Stdout, "one", "two", "three")
	entered := make(chan struct{}, 1)
	next, err := consumer.NewLogs(func(ctx context.Context, _ plog.Logs) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fakeCfg(d)
	storage := rstStorageID
	cfg.Storage = &storage
	dir := t.TempDir()
	_, r := rstStart(t, cfg, next, rstHost(dir))
	select {
	case <-entered:
	case <-time.After(fakeWait):
		t.Fatal("the consumer was never called")
	}

	const deadline = 2 * time.Second
	sctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	began := time.Now()
	err = r.Shutdown(sctx)
	took := time.Since(began)
	t.Logf("Shutdown with a %v deadline and a blocked consumer returned after %v: %v", deadline, took.Round(time.Millisecond), err)
	if err != nil || took > deadline {
		t.Fatalf("Shutdown took %v (deadline %v) and returned %v", took, deadline, err)
	}

	// What the store holds is the start position: nothing was accepted.
	if e := rstLoadEntry(t, dir, id); e.Skip != 0 || e.MaxTimestamp != 0 {
		t.Fatalf("saved position %+v covers lines the consumer never accepted", e.Position)
	}
}

// TestFakeIdleTimeoutIgnoresTimeOnTheConsumer: the consumer refuses for
// three times idle_timeout. That is the pipeline's time, not the daemon's:
// the stream is not closed as stalled, and every line arrives once.
func TestFakeIdleTimeoutIgnoresTimeOnTheConsumer(t *testing.T) {
	const idle = 300 * time.Millisecond
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "refused", Image: "t:1"})
	sink := &fakeSink{}
	var refuse atomic.Bool
	refuse.Store(true)
	refusing := make(chan struct{})
	next, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		if refuse.Load() {
			select {
			case <-refusing:
			default:
				close(refusing)
			}
			return errors.New("busy")
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fakeCfg(d)
	cfg.IdleTimeout = idle
	cfg.RotationInterval = 0
	tt, _ := startReceiver(t, cfg, next, nil)
	lines := make([]string, 20)
	for i := range lines {
		lines[i] = seqcheck.Format("refused", "stdout", i+1, 20, false)
	}
	d.WriteLines(id, fakedocker.Stdout, lines[:10]...)
	<-refusing
	time.Sleep(3 * idle) // the consumer keeps refusing meanwhile
	refuse.Store(false)
	d.WriteLines(id, fakedocker.Stdout, lines[10:]...)
	sink.Checker.Expect("refused", "stdout", 20)
	waitChecker(t, &sink.Checker)
	stalls := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "stall")
	idles := counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "idle")
	t.Logf("consumer refused for %v with idle_timeout %v: stalls %d, idle closes %d, records %d", 3*idle, idle, stalls, idles, len(sink.all()))
	if stalls != 0 || idles != 0 {
		t.Fatalf("time blocked on the consumer counted as idleness: %d stalls, %d idle closes", stalls, idles)
	}
	if err := sink.Checker.Report().Err(); err != nil {
		t.Fatal(err)
	}
}

// TestFakeEqualLinesWithOneTimestampBothArrive: two identical lines on one
// stream with the same nanosecond timestamp, on an Engine that never sends
// blocks again (23 and later): both are lines, and both arrive. On 20.10
// the same pair is indistinguishable from its resend and one is dropped.
func TestFakeEqualLinesWithOneTimestampBothArrive(t *testing.T) {
	for _, tc := range []struct {
		engine string
		want   int
	}{{"29.1.0", 3}, {"20.10.24", 2}} {
		t.Run(tc.engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(tc.engine))
			id := running(d, fakedocker.Container{Name: "twins", Image: "t:1"})
			sink := &fakeSink{}
			startReceiver(t, fakeCfg(d), sink, nil)
			ts := time.Unix(1_800_000_000, 123)
			d.WriteEntries(id,
				fakedocker.Entry{Time: ts, Stream: fakedocker.Stdout, Text: []byte("same")},
				fakedocker.Entry{Time: ts, Stream: fakedocker.Stdout, Text: []byte("same")})
			d.WriteLines(id, fakedocker.Stdout, "after")
			recs := sink.waitBody(t, id, "after")
			var bodies []string
			for _, r := range sink.of(id) {
				bodies = append(bodies, r.Body)
			}
			if len(bodies) != tc.want {
				t.Fatalf("records %q (%d when the last arrived), want %d", bodies, len(recs), tc.want)
			}
		})
	}
}

// TestFakeGapThenReopenBeforeASettledPoint: a collector resumes at a
// position Docker has rotated away (a gap, reported once); the first line
// after the gap is still arriving in parts when the stream rotates, so no
// settled point follows the gap yet, while a stderr line completed meanwhile
// was delivered. The reopens that follow find the same gap: that stderr line
// must not come again, and the gap is not reported again.
func TestFakeGapThenReopenBeforeASettledPoint(t *testing.T) {
	d := fakedocker.New(t, fakedocker.WithEngineVersion("29.1.0"))
	id := running(d, fakedocker.Container{Name: "gapped", Image: "t:1"})
	cfg := fakeCfg(d)
	storage := rstStorageID
	cfg.Storage = &storage
	dir := t.TempDir()

	// A reads one line and stops: its position is anchored on it.
	first := &fakeSink{}
	_, a := rstStart(t, cfg, first, rstHost(dir))
	d.WriteLines(id, fakedocker.Stdout, "anchor")
	first.waitBody(t, id, "anchor")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}

	// Docker rotates the anchor away; a long stdout line starts (its first
	// part), a stderr line completes.
	d.Forget(id, 1)
	ts := time.Unix(1_900_000_000, 0)
	d.WriteEntries(id,
		fakedocker.Entry{Time: ts, Stream: fakedocker.Stdout, Text: []byte("long-part-1 "), Partial: true},
		fakedocker.Entry{Time: ts.Add(time.Millisecond), Stream: fakedocker.Stderr, Text: []byte("stderr-line")})

	cfg.RotationInterval = 100 * time.Millisecond
	sink := &fakeSink{}
	tt, _ := rstStart(t, cfg, sink, rstHost(dir))
	sink.waitBody(t, id, "stderr-line")
	// Several rotations while the stdout line is still open.
	rot := counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "rotation")
	if err := waitFor(sctx, func() bool {
		return counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "rotation") >= rot+3
	}); err != nil {
		t.Fatal(err)
	}
	d.WriteEntries(id, fakedocker.Entry{Time: ts, Stream: fakedocker.Stdout, Text: []byte("part-2")})
	d.WriteLines(id, fakedocker.Stdout, "after")
	sink.waitBody(t, id, "after")

	var bodies []string
	for _, r := range sink.of(id) {
		bodies = append(bodies, r.Body)
	}
	gaps := counter(t, tt, "dockerlogsrotating_cursor_gaps", "", "")
	t.Logf("records %q, gaps %d", bodies, gaps)
	want := []string{"stderr-line", "long-part-1 part-2", "after"}
	if !slices.Equal(bodies, want) {
		t.Fatalf("records %q, want %q", bodies, want)
	}
	if gaps != 1 {
		t.Fatalf("%d gaps reported for one rotated-away position", gaps)
	}
}

// TestFakeClockSteppedBackAcrossARestart: the host clock is stepped back
// while a container is stopped; its next run's lines are stamped before
// the position the receiver holds. They must still arrive, once. Engines 23
// and later send everything after the position's first match, whatever its
// stamp; Engines before 23 drop every message older than since, so there
// the position is looked for from the new run's start.
func TestFakeClockSteppedBackAcrossARestart(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			var now atomic.Int64
			now.Store(time.Unix(2_000_000_000, 0).UnixNano())
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine), fakedocker.WithClock(func() time.Time { return time.Unix(0, now.Load()) }))
			id := running(d, fakedocker.Container{Name: "stepped", Image: "t:1"})
			sink := &fakeSink{}
			startReceiver(t, fakeCfg(d), sink, nil)
			d.WriteEntries(id, fakedocker.Entry{Time: time.Unix(2_000_000_001, 0), Stream: fakedocker.Stdout, Text: []byte("before the step")})
			sink.waitBody(t, id, "before the step")
			d.Stop(id)
			ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
			defer cancel()
			if err := d.WaitLogStreams(ctx, 0); err != nil { // the run was read to its end
				t.Fatal(err)
			}
			now.Store(time.Unix(2_000_000_000-3600, 0).UnixNano()) // an hour back
			d.Start(id)
			d.WriteEntries(id, fakedocker.Entry{Time: time.Unix(2_000_000_000-3599, 0), Stream: fakedocker.Stdout, Text: []byte("after the step")})
			sink.waitBody(t, id, "after the step")
			// More of the new run, read after a reopen from the new position.
			d.Stop(id)
			if err := d.WaitLogStreams(ctx, 0); err != nil {
				t.Fatal(err)
			}
			d.Start(id)
			d.WriteEntries(id, fakedocker.Entry{Time: time.Unix(2_000_000_000-3500, 0), Stream: fakedocker.Stdout, Text: []byte("third run")})
			sink.waitBody(t, id, "third run")
			var bodies []string
			for _, r := range sink.of(id) {
				bodies = append(bodies, r.Body)
			}
			if want := []string{"before the step", "after the step", "third run"}; !slices.Equal(bodies, want) {
				t.Fatalf("records %q, want %q", bodies, want)
			}
		})
	}
}

// TestFakeRefusedBatchesAreRetriedAndDeliveredExactlyOnce refuses the first
// batches while streams rotate: nothing is lost, nothing doubled.
func TestFakeRefusedBatchesAreRetriedAndDeliveredExactlyOnce(t *testing.T) {
	d := fakedocker.New(t)
	const name = "refuse"
	id := running(d, fakedocker.Container{Name: name, Image: "ref:1"})
	g := newRotGen(name)
	es, _ := g.chunk(300)
	d.WriteEntries(id, es...)
	var mu sync.Mutex
	calls := 0
	sink := &fakeSink{}
	sink.Refuse = func() error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= 3 {
			return errors.New("downstream is busy")
		}
		return nil
	}
	cfg := fakeCfg(d)
	cfg.RotationInterval = minRotationInterval
	startReceiver(t, cfg, sink, nil)
	sink.waitCount(t, id, 1)
	es, _ = g.chunk(300)
	d.WriteEntries(id, es...)
	g.expect(&sink.Checker)
	// 600 lines take well under a second once the consumer accepts.
	waitCheckerFor(t, &sink.Checker, 10*time.Second)
	d.WriteEntries(id, g.line(fakedocker.Stdout, 10, g.clock.Add(time.Millisecond))...)
	g.expect(&sink.Checker)
	waitChecker(t, &sink.Checker)
	checkGenerated(t, sink, g, id, "ref:1")
}

// TestFakePermanentRefusalDropsTheBatchOnceAndCountsIt: a permanent error
// drops that batch (counted), and it is not read again after a reopen.
func TestFakePermanentRefusalDropsTheBatchOnceAndCountsIt(t *testing.T) {
	d := fakedocker.New(t)
	reqs := watchRequests(d)
	id := running(d, fakedocker.Container{Name: "perm", Image: "perm:1"})
	d.WriteLines(id, fakedocker.Stdout, "rejected")
	refused := make(chan struct{})
	var once sync.Once
	sink := &fakeSink{}
	sink.Refuse = func() error {
		err := error(nil)
		once.Do(func() {
			err = consumererror.NewPermanent(errors.New("malformed"))
			close(refused)
		})
		return err
	}
	cfg := fakeCfg(d)
	cfg.RotationInterval = minRotationInterval
	tt, _ := startReceiver(t, cfg, sink, nil)
	select {
	case <-refused:
	case <-time.After(fakeWait):
		t.Fatal("the first batch never reached the consumer")
	}
	var wants []want
	for _, b := range []string{"accepted 1", "accepted 2"} {
		ts := d.WriteLines(id, fakedocker.Stdout, b)[0]
		wants = append(wants, want{stream: "stdout", body: b, ts: ts})
	}
	sink.waitBody(t, id, "accepted 2")
	reqs.waitRotation(t, id)
	ts := d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
	wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})
	got := sink.waitBody(t, id, "barrier")
	checkRecords(t, got, wants)
	if n := counter(t, tt, "dockerlogsrotating_records_dropped", "", ""); n != 1 {
		t.Errorf("records_dropped = %d, want 1", n)
	}
	if n := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "consumer"); n != 1 {
		t.Errorf("stream_errors{error.type=consumer} = %d, want 1", n)
	}
}
