package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/telemetrytest"
)

// waitTimeout bounds every wait; events arrive in milliseconds.
const waitTimeout = 20 * time.Second

// rec is one delivered record.
type rec struct {
	ID, Name  string // container.id, container.name of the resource
	Image     string // container.image.name of the resource
	EventName string
	Body      string
	Time      int64
	Attrs     map[string]any
}

func (r rec) String() string { return r.Name + " " + r.EventName }

// sink is a consumer that keeps the records; Refuse, when set, is asked
// first and its error returned instead of accepting.
type sink struct {
	mu      sync.Mutex
	recs    []rec
	calls   int
	Refuse  func(call int) error
	changed chan struct{}
}

func newSink() *sink { return &sink{changed: make(chan struct{})} }

func (s *sink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *sink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.Refuse != nil {
		if err := s.Refuse(s.calls); err != nil {
			return err
		}
	}
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes().AsRaw()
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				s.recs = append(s.recs, rec{
					ID: fmt.Sprint(res["container.id"]), Name: fmt.Sprint(res["container.name"]), Image: fmt.Sprint(res["container.image.name"]),
					EventName: lr.EventName(), Body: lr.Body().Str(), Time: int64(lr.Timestamp()), Attrs: lr.Attributes().AsRaw(),
				})
			}
		}
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

func (s *sink) all() []rec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]rec(nil), s.recs...)
}

// wait blocks until at least n records arrived and returns them all.
func (s *sink) wait(t *testing.T, n int) []rec {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		got, ch := len(s.recs), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.all()
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("timed out waiting for %d records; got %v", n, s.all())
		}
	}
}

// names lists the records as "container event.name".
func names(recs []rec) string {
	var b []string
	for _, r := range recs {
		b = append(b, r.String())
	}
	return strings.Join(b, ", ")
}

// memStore is a Store in memory; fail, when set, fails every save.
type memStore struct {
	mu    sync.Mutex
	pos   *Position
	saves int
	fail  error
}

func (m *memStore) LoadLifecycle(context.Context) (Position, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pos == nil {
		return Position{}, false, nil
	}
	return Position{Since: m.pos.Since, Seen: append([]Mark(nil), m.pos.Seen...)}, true, nil
}

func (m *memStore) SaveLifecycle(_ context.Context, p Position) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.saves++
	m.pos = &Position{Since: p.Since, Seen: append([]Mark(nil), p.Seen...)}
	return nil
}

func (m *memStore) saved() (Position, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pos == nil {
		return Position{}, m.saves
	}
	return *m.pos, m.saves
}

// harness is a fake daemon and what a watcher needs around it.
type harness struct {
	t    *testing.T
	d    *fakedocker.Daemon
	api  docker.API
	tt   *componenttest.Telemetry
	tel  *metadata.TelemetryBuilder
	obs  *receiverhelper.ObsReport
	logs *observer.ObservedLogs
	log  *zap.Logger
}

func newHarness(t *testing.T, opts ...fakedocker.Option) *harness {
	t.Helper()
	d := fakedocker.New(t, opts...)
	cli, err := docker.NewClient(docker.Config{Endpoint: d.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tt.Shutdown(context.Background()) })
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tt.NewTelemetrySettings()
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tel.Shutdown)
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{ReceiverID: set.ID, Transport: "docker", ReceiverCreateSettings: set})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	return &harness{t: t, d: d, api: cli, tt: tt, tel: tel, obs: obs, logs: logs, log: zap.New(core)}
}

// watcher returns a watcher delivering to s, selecting every container
// but those labelled skip=1.
func (h *harness) watcher(s *sink, store Store) *Watcher {
	return &Watcher{
		API: h.api, Consumer: s, ObsReport: h.obs, Telemetry: h.tel, Logger: h.log,
		Select:    func(c docker.Container) bool { return c.Labels["skip"] != "1" },
		Resource:  resourceOf,
		ScopeName: "test", ScopeVersion: "0",
		Timeout: 5 * time.Second, Backoff: backoff.Policy{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Store: store,
	}
}

func resourceOf(c docker.Container) pcommon.Resource {
	r := pcommon.NewResource()
	r.Attributes().PutStr("container.id", c.ID)
	r.Attributes().PutStr("container.name", c.Name)
	r.Attributes().PutStr("container.image.name", c.Image)
	return r
}

// start runs w until the returned stop is called (or the test ends) and
// waits for its event stream to open.
func (h *harness) start(w *Watcher) (stop func()) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(waitTimeout):
				h.t.Errorf("the watcher did not stop within %v", waitTimeout)
			}
		})
	}
	h.t.Cleanup(stop)
	h.waitStreams(1)
	return stop
}

func (h *harness) waitStreams(n int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := h.d.WaitEventStreams(ctx, n); err != nil {
		h.t.Fatalf("waiting for %d event streams: %v", n, err)
	}
}

// eventually polls cond: for the receiver's own counters, which no event
// announces and which are updated right after a delivery returns.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// counter sums an int counter of the watcher's telemetry.
func (h *harness) counter(name string) int64 {
	return telemetrytest.Sum(h.tt, "otelcol_"+name, "", "")
}

// running adds a container and starts it; it returns the full ID.
func (h *harness) running(c fakedocker.Container) string {
	h.d.AddContainer(c)
	id := h.d.ContainerID(c.Name)
	h.d.Start(id)
	return id
}

var errRefused = errors.New("refused for the test")
