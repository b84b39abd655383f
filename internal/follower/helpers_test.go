package follower

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/pool"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/telemetrytest"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 30 * time.Second

const (
	modern = "29.1.0"   // since is a prefix skip
	legacy = "20.10.24" // since filters every message
)

// engines runs f once per since mode of the fake daemon.
func engines(t *testing.T, f func(t *testing.T, engine string)) {
	for _, e := range []string{modern, legacy} {
		t.Run(cursor.ModeForEngine(e).String(), func(t *testing.T) { f(t, e) })
	}
}

// watchedAPI counts the log requests the follower makes, so tests can wait
// for a (re)open instead of sleeping.
type watchedAPI struct {
	docker.API
	mu      sync.Mutex
	follows int // follow streams opened (the request returned, ok or not)
	changed chan struct{}
}

func (w *watchedAPI) ContainerLogs(ctx context.Context, id string, opts client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	res, err := w.API.ContainerLogs(ctx, id, opts)
	if opts.Follow {
		w.mu.Lock()
		w.follows++
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
	return res, err
}

func (w *watchedAPI) opens() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.follows
}

// waitOpens blocks until at least n follow streams were opened.
func (w *watchedAPI) waitOpens(t testing.TB, n int) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		w.mu.Lock()
		got, ch := w.follows, w.changed
		w.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("timed out waiting for log stream open #%d (%d so far)", n, got)
		}
	}
}

// harness is one fake daemon, a client, telemetry and follower settings.
type harness struct {
	t    testing.TB
	d    *fakedocker.Daemon
	api  *watchedAPI
	sink *logsink.Sink
	tt   *componenttest.Telemetry
	set  *Settings
	// logged receives the message of every log entry at Warn or above.
	logged chan string
}

func newHarness(t testing.TB, engine string) *harness {
	t.Helper()
	d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
	cli, err := docker.NewClient(docker.Config{Endpoint: d.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	api := &watchedAPI{API: cli, changed: make(chan struct{})}

	tt := componenttest.NewTelemetry()
	tb, err := metadata.NewTelemetryBuilder(tt.NewTelemetrySettings())
	if err != nil {
		t.Fatal(err)
	}
	rs := receivertest.NewNopSettings(metadata.Type)
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: component.NewID(metadata.Type), Transport: "docker", LongLivedCtx: true, ReceiverCreateSettings: rs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tb.Shutdown()
		_ = tt.Shutdown(context.Background())
	})

	h := &harness{t: t, d: d, api: api, sink: &logsink.Sink{}, tt: tt, logged: make(chan string, 100)}
	logger := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel), zaptest.WrapOptions(zap.Hooks(func(e zapcore.Entry) error {
		if e.Level >= zapcore.WarnLevel {
			select {
			case h.logged <- e.Message:
			default:
			}
		}
		return nil
	})))
	h.set = &Settings{
		API:       api,
		Pool:      pool.New(4),
		Consumer:  h.sink,
		ObsReport: obs,
		Telemetry: tb,
		Logger:    logger,
		Mode:      func() cursor.Mode { return cursor.ModeForEngine(d.EngineVersion()) },
		Resource: func(c docker.Container) pcommon.Resource {
			r := pcommon.NewResource()
			r.Attributes().PutStr("container.name", c.Name)
			r.Attributes().PutStr("container.id", c.ID)
			return r
		},
		ScopeName:        "dockerlogsrotating-test",
		ScopeVersion:     "t",
		StartAtBeginning: true,
		RotationInterval: 50 * time.Millisecond,
		MaxLogSize:       1 << 20,
		MaxBatch:         1000,
		SlowStreamPause:  20 * time.Millisecond,
		Backoff:          backoff.Policy{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond},
	}
	return h
}

// group starts a Group whose followers stop, and are waited for, when the
// test ends (before the daemon and client are closed).
func (h *harness) group() *Group {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g := NewGroup(ctx, h.set)
	h.t.Cleanup(func() {
		cancel()
		waitDone(h.t, "Group.Wait after cancel", func() { g.Wait() })
	})
	return g
}

// run starts one Follower directly; stop cancels it and returns Run's error.
func (h *harness) run(f *Follower, gone <-chan struct{}) (stop func() error) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, gone) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(waitTimeout):
				h.t.Error("Follower.Run did not return after cancel")
			}
		})
		return err
	}
	h.t.Cleanup(func() { _ = stop() })
	return stop
}

func waitDone(t testing.TB, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Errorf("timed out: %s", what)
	}
}

// add creates and starts a container and returns its ID.
func (h *harness) add(c fakedocker.Container) string {
	h.d.AddContainer(c)
	id := h.d.ContainerID(c.Name)
	h.d.Start(id)
	return id
}

func (h *harness) inspect(id string) docker.Container {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	res, err := h.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return docker.ContainerFromInspect(res.Container)
}

func (h *harness) waitRecords(n int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := h.sink.WaitFor(ctx, n); err != nil {
		h.t.Fatalf("waiting for %d records (have %d): %v", n, len(h.sink.Records()), err)
	}
}

func (h *harness) waitChecker() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := h.sink.Checker.Wait(ctx); err != nil {
		h.t.Fatal(err)
	}
}

// waitLogged waits for a Warn-or-above log entry containing substr.
func (h *harness) waitLogged(substr string) {
	h.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case m := <-h.logged:
			if strings.Contains(m, substr) {
				return
			}
		case <-timer.C:
			h.t.Fatalf("timed out waiting for a log entry containing %q", substr)
		}
	}
}

// counter sums an int64 sum metric's points whose attribute key has value
// (all points when key is empty).
func (h *harness) counter(name, key, value string) int64 {
	h.t.Helper()
	return telemetrytest.Sum(h.tt, "otelcol_dockerlogsrotating_"+name, key, value)
}

// lines writes self-verifying lines for one source, numbering each stream.
type lines struct {
	src string
	seq [3]int // by fakedocker stream number
}

// next returns the next line of stream s with a payload of size bytes.
func (l *lines) next(s, size int) string {
	l.seq[s]++
	return seqcheck.Format(l.src, fakedocker.StreamName(s), l.seq[s], size, false)
}

func (l *lines) entry(s, size int, ts time.Time) fakedocker.Entry {
	return fakedocker.Entry{Time: ts, Stream: s, Text: []byte(l.next(s, size))}
}

// expect declares every line written so far as expected.
func (l *lines) expect(c *seqcheck.Checker) {
	c.Expect(l.src, "stdout", l.seq[fakedocker.Stdout])
	c.Expect(l.src, "stderr", l.seq[fakedocker.Stderr])
}

// exact fails unless every expected line arrived exactly once, intact, in
// order per stream.
func (h *harness) exact() {
	h.t.Helper()
	r := h.sink.Checker.Report()
	if err := r.ErrInOrder(); err != nil {
		h.t.Errorf("delivery not exactly once:\n%v\n%s", err, r)
	}
}

// seqs returns the seqs delivered on stream of src, in delivery order.
func seqs(recs []logsink.Record, stream string) []int {
	var out []int
	for _, r := range recs {
		if r.Stream != stream {
			continue
		}
		l, err := seqcheck.Parse(r.Body)
		if err != nil {
			out = append(out, -1)
			continue
		}
		out = append(out, l.Seq)
	}
	return out
}

func span(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tap wraps a consumer and sees every batch before it.
type tap struct {
	next consumer.Logs
	f    func(ld plog.Logs) error // nil error: pass to next
}

func (t *tap) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }
func (t *tap) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if err := t.f(ld); err != nil {
		return err
	}
	return t.next.ConsumeLogs(ctx, ld)
}

func bodies(ld plog.Logs) []string {
	var out []string
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				out = append(out, lr.Body().AsString())
			}
		}
	}
	return out
}

var errBusy = fmt.Errorf("next consumer is busy")

// refuseFirst makes the sink refuse its first n batches with a retryable
// error. It returns the count of ConsumeLogs calls and a function that
// waits for a refusal.
func (h *harness) refuseFirst(n int64) (*atomic.Int64, func()) {
	var calls atomic.Int64
	refused := make(chan struct{}, 1)
	h.sink.Refuse = func() error {
		if calls.Add(1) <= n {
			select {
			case refused <- struct{}{}:
			default:
			}
			return errBusy
		}
		return nil
	}
	wait := func() {
		h.t.Helper()
		select {
		case <-refused:
		case <-time.After(waitTimeout):
			h.t.Fatal("no batch was offered")
		}
	}
	return &calls, wait
}
