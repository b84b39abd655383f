package receiver

// The harness of the unit tests that run the whole receiver against
// internal/testing/fakedocker, a fake Docker daemon spoken to by the real moby
// client: a sink that keeps each record with its resource, a watch on the
// requests the daemon receives, a host that records component status, and
// generators of lines. Every test waits on events (records delivered,
// requests received, streams opened, status reported); the only polling is
// for the receiver's own gauges, which no event announces (see eventually).

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	otelreceiver "go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/imageref"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
)

// fakeWait bounds every wait of these tests; nothing should take long.
const fakeWait = 30 * time.Second

// fakeRecord is one delivered record together with its resource.
type fakeRecord struct {
	logsink.Record
	Resource map[string]any
}

// fakeSink keeps every record with its resource and passes every batch on
// to an embedded logsink.Sink, whose Checker verifies seqcheck lines.
type fakeSink struct {
	logsink.Sink

	mu      sync.Mutex
	recs    []fakeRecord
	changed chan struct{}
}

var _ consumer.Logs = (*fakeSink)(nil)

func (s *fakeSink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.Sink.ConsumeLogs(ctx, ld); err != nil {
		return err
	}
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes().AsRaw()
		name, _ := res["container.name"].(string)
		id, _ := res["container.id"].(string)
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				r := fakeRecord{Resource: res, Record: logsink.Record{
					Container: name, ID: id, Body: lr.Body().AsString(),
					Timestamp: int64(lr.Timestamp()), Attrs: lr.Attributes().AsRaw(),
				}}
				if v, ok := lr.Attributes().Get("log.iostream"); ok {
					r.Stream = v.Str()
				}
				s.recs = append(s.recs, r)
			}
		}
	}
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	return nil
}

// all returns every record delivered so far.
func (s *fakeSink) all() []fakeRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]fakeRecord(nil), s.recs...)
}

// of returns the records of one container (by container.id).
func (s *fakeSink) of(id string) []fakeRecord {
	var out []fakeRecord
	for _, r := range s.all() {
		if r.ID == id {
			out = append(out, r)
		}
	}
	return out
}

// waitUntil blocks until cond holds for the delivered records; it fails the
// test after fakeWait.
func (s *fakeSink) waitUntil(t *testing.T, what string, cond func([]fakeRecord) bool) []fakeRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
	defer cancel()
	for {
		s.mu.Lock()
		recs := append([]fakeRecord(nil), s.recs...)
		if cond(recs) {
			s.mu.Unlock()
			return recs
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; %d records delivered:\n%s", what, len(recs), describe(recs))
		}
	}
}

// waitCount waits until container id has at least n records and returns them.
func (s *fakeSink) waitCount(t *testing.T, id string, n int) []fakeRecord {
	t.Helper()
	var got []fakeRecord
	s.waitUntil(t, fmt.Sprintf("%d records of %.12s", n, id), func(recs []fakeRecord) bool {
		got = got[:0]
		for _, r := range recs {
			if r.ID == id {
				got = append(got, r)
			}
		}
		return len(got) >= n
	})
	return got
}

// waitBody waits until container id delivered a record with this body, and
// returns that container's records.
func (s *fakeSink) waitBody(t *testing.T, id, body string) []fakeRecord {
	t.Helper()
	s.waitUntil(t, fmt.Sprintf("body %q of %.12s", short(body), id), func(recs []fakeRecord) bool {
		for _, r := range recs {
			if r.ID == id && r.Body == body {
				return true
			}
		}
		return false
	})
	return s.of(id)
}

func describe(recs []fakeRecord) string {
	var b strings.Builder
	for i, r := range recs {
		if i == 60 {
			fmt.Fprintf(&b, "  ... %d more\n", len(recs)-i)
			break
		}
		fmt.Fprintf(&b, "  %s %s ts=%d len=%d %q attrs=%v\n", r.Container, r.Stream, r.Timestamp, len(r.Body), short(r.Body), r.Attrs)
	}
	return b.String()
}

func short(s string) string {
	if len(s) > 60 {
		return s[:40] + "…" + s[len(s)-15:]
	}
	return s
}

// reqWatch records the requests the fake daemon receives and wakes waiters.
type reqWatch struct {
	mu      sync.Mutex
	reqs    []fakedocker.Request
	changed chan struct{}
}

// watchRequests installs a pass-through hook on every request of d.
func watchRequests(d *fakedocker.Daemon) *reqWatch {
	w := &reqWatch{changed: make(chan struct{})}
	d.SetFault(func(req fakedocker.Request, _ *fakedocker.FaultWriter) bool {
		w.mu.Lock()
		w.reqs = append(w.reqs, req)
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
		return false
	})
	return w
}

func (w *reqWatch) count(match func(fakedocker.Request) bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, r := range w.reqs {
		if match(r) {
			n++
		}
	}
	return n
}

// waitCount blocks until at least n requests match.
func (w *reqWatch) waitCount(t *testing.T, what string, n int, match func(fakedocker.Request) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
	defer cancel()
	for {
		w.mu.Lock()
		ch := w.changed
		w.mu.Unlock()
		got := w.count(match)
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %d %s requests (got %d)", n, what, got)
		}
	}
}

// followLogs matches the follow=1 /logs requests of container id: one per
// stream opened (first open, rotation, reopen after an error or a restart).
func followLogs(id string) func(fakedocker.Request) bool {
	return func(r fakedocker.Request) bool {
		return r.Path == "/containers/"+id+"/logs" && r.Query.Get("follow") == "1"
	}
}

// anyLogs matches every /logs request of container id.
func anyLogs(id string) func(fakedocker.Request) bool {
	return func(r fakedocker.Request) bool { return r.Path == "/containers/"+id+"/logs" }
}

func pathIs(p string) func(fakedocker.Request) bool {
	return func(r fakedocker.Request) bool { return r.Path == p }
}

// waitRotation waits until container id's stream has been opened once more
// than it had been when called.
func (w *reqWatch) waitRotation(t *testing.T, id string) {
	t.Helper()
	n := w.count(followLogs(id))
	w.waitCount(t, "reopen of "+id[:12], n+1, followLogs(id))
}

// statusHost records the component status the receiver reports.
type statusHost struct {
	component.Host
	mu      sync.Mutex
	events  []*componentstatus.Event
	changed chan struct{}
}

func newStatusHost() *statusHost {
	return &statusHost{Host: componenttest.NewNopHost(), changed: make(chan struct{})}
}

func (h *statusHost) Report(e *componentstatus.Event) {
	h.mu.Lock()
	h.events = append(h.events, e)
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// waitStatus waits for a reported status, counting from event index from,
// and returns the index after it.
func (h *statusHost) waitStatus(t *testing.T, from int, st componentstatus.Status) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
	defer cancel()
	for {
		h.mu.Lock()
		for i := from; i < len(h.events); i++ {
			if h.events[i].Status() == st {
				h.mu.Unlock()
				return i + 1
			}
		}
		ch := h.changed
		h.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for status %v", st)
		}
	}
}

// startReceiver creates and starts a receiver delivering to next, reporting
// status to host (a nop host when nil), and shuts it down when the test ends.
func startReceiver(t *testing.T, cfg *Config, next consumer.Logs, host component.Host) (*componenttest.Telemetry, otelreceiver.Logs) {
	t.Helper()
	must(t, cfg.Validate())
	tt := componenttest.NewTelemetry()
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tt.NewTelemetrySettings()
	set.BuildInfo.Version = "test"
	if os.Getenv("DLR_TEST_DEBUG") != "" {
		set.Logger = zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel))
	}
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	must(t, err)
	if host == nil {
		host = componenttest.NewNopHost()
	}
	must(t, r.Start(context.Background(), host))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		_ = tt.Shutdown(ctx)
	})
	return tt, r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fakeCfg is the receiver configuration for daemon d: read from the
// beginning, no rotation unless a test asks for it.
func fakeCfg(d *fakedocker.Daemon) *Config {
	cfg := testConfig(d.Endpoint())
	cfg.StartAt = StartAtBeginning
	return cfg
}

// running adds a container and starts it; it returns the full ID.
func running(d *fakedocker.Daemon, c fakedocker.Container) string {
	d.AddContainer(c)
	id := d.ContainerID(c.Name)
	d.Start(id)
	return id
}

// want is one expected record.
type want struct {
	stream string
	body   string
	ts     time.Time
	attrs  map[string]any // besides log.iostream
}

// checkRecords requires exactly the wanted records, in order: body, stream
// attribute, Docker's timestamp and the record attributes.
func checkRecords(t *testing.T, got []fakeRecord, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Errorf("got %d records, want %d:\n%s", len(got), len(wants), describe(got))
	}
	for i := range min(len(got), len(wants)) {
		g, w := got[i], wants[i]
		if g.Body != w.body {
			t.Errorf("record %d: body (%d bytes) %q, want (%d bytes) %q", i, len(g.Body), short(g.Body), len(w.body), short(w.body))
		}
		if g.Stream != w.stream {
			t.Errorf("record %d (%q): log.iostream %q, want %q", i, short(w.body), g.Stream, w.stream)
		}
		if g.Timestamp != w.ts.UnixNano() {
			t.Errorf("record %d (%q): timestamp %d, want Docker's %d", i, short(w.body), g.Timestamp, w.ts.UnixNano())
		}
		attrs := map[string]any{"log.iostream": w.stream}
		for k, v := range w.attrs {
			attrs[k] = v
		}
		if fmt.Sprint(g.Attrs) != fmt.Sprint(attrs) {
			t.Errorf("record %d (%q): attributes %v, want %v", i, short(w.body), g.Attrs, attrs)
		}
	}
}

// checkResource requires the container's identity on every record: ID,
// name, runtime, and image as name plus tag (the other default attributes
// are checked in metadata_fake_test.go).
func checkResource(t *testing.T, recs []fakeRecord, id, name, image string) {
	t.Helper()
	ref := imageref.Parse(image)
	wantRes := fmt.Sprint(map[string]any{
		"container.id": id, "container.name": name, "container.runtime.name": "docker",
		"container.image.name": ref.Name, "container.image.tags": []any{ref.Tag},
	})
	for i, r := range recs {
		got := fmt.Sprint(map[string]any{
			"container.id": r.Resource["container.id"], "container.name": r.Resource["container.name"],
			"container.runtime.name": r.Resource["container.runtime.name"],
			"container.image.name":   r.Resource["container.image.name"], "container.image.tags": r.Resource["container.image.tags"],
		})
		if got != wantRes {
			t.Fatalf("record %d (%q): resource %s, want %s", i, short(r.Body), r.Resource, wantRes)
		}
	}
}

// eventually polls cond; only for the receiver's gauges, which change on
// the receiver's own goroutines with no event a test could wait on.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(fakeWait)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		<-tick.C
	}
}

// pattern returns n bytes of printable ASCII that differ by position, so a
// reordered or shifted part shows.
func pattern(seed string, n int) string {
	var b strings.Builder
	b.Grow(n + 16)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%s%07d.", seed, i)
	}
	return b.String()[:n]
}

// splitEntries cuts a line the way Docker stores one longer than 16 KiB:
// parts of size bytes with the same time, all but the last Partial.
func splitEntries(stream int, ts time.Time, text string, size int) []fakedocker.Entry {
	var es []fakedocker.Entry
	b := []byte(text)
	for {
		n := min(size, len(b))
		es = append(es, fakedocker.Entry{Time: ts, Stream: stream, Text: b[:n], Partial: n < len(b)})
		b = b[n:]
		if len(b) == 0 {
			return es
		}
	}
}

// rotGen writes self-verifying lines with the timestamps that make resuming
// hard: groups sharing one timestamp, stderr lines stamped before the stdout
// line written just before them, and lines Docker split into parts. For a
// TTY container every line goes to stdout and ends in "\r\n".
type rotGen struct {
	name  string
	tty   bool
	clock time.Time
	seq   [2]int
	step  int
	times map[string]int64 // body -> Docker timestamp (of the first part)
}

func newRotGen(name string) *rotGen {
	return &rotGen{name: name, clock: time.Now(), times: map[string]int64{}}
}

func (g *rotGen) line(stream int, size int, ts time.Time) []fakedocker.Entry {
	if g.tty {
		stream = fakedocker.Stdout
	}
	i := stream - 1
	g.seq[i]++
	body := seqcheck.Format(g.name, fakedocker.StreamName(stream), g.seq[i], size, false)
	g.times[body] = ts.UnixNano()
	text := body
	if g.tty {
		text += "\r"
	}
	return splitEntries(stream, ts, text, fakedocker.DockerSplitSize)
}

// expect declares every line written so far to the checker.
func (g *rotGen) expect(c *seqcheck.Checker) {
	c.Expect(g.name, "stdout", g.seq[0])
	if !g.tty {
		c.Expect(g.name, "stderr", g.seq[1])
	}
}

// chunk returns at least n lines' worth of entries.
func (g *rotGen) chunk(n int) (es []fakedocker.Entry, lines int) {
	for lines < n {
		g.step++
		g.clock = g.clock.Add(150 * time.Microsecond)
		switch {
		case g.step%10 == 0: // one timestamp, both streams
			for _, s := range []int{fakedocker.Stdout, fakedocker.Stderr, fakedocker.Stdout, fakedocker.Stdout} {
				es = append(es, g.line(s, 30, g.clock)...)
			}
			lines += 4
		case g.step%10 == 3: // stderr stamped 7ms before the preceding stdout line
			es = append(es, g.line(fakedocker.Stdout, 50, g.clock)...)
			es = append(es, g.line(fakedocker.Stderr, 50, g.clock.Add(-7*time.Millisecond))...)
			lines += 2
		case g.step%20 == 6: // split by Docker: 2 or 3 parts
			size := 20000
			if g.step%60 == 6 {
				size = 40000
			}
			es = append(es, g.line(1+(g.step/20)%2, size, g.clock)...)
			lines++
		default:
			es = append(es, g.line(1+g.step%2, 10+g.step%90, g.clock)...)
			lines++
		}
	}
	return es, lines
}

// checkGenerated requires every line of g exactly once and in order, with
// Docker's timestamps and the container's resource.
func checkGenerated(t *testing.T, sink *fakeSink, g *rotGen, id, image string) {
	t.Helper()
	rep := sink.Checker.Report()
	if err := rep.Err(); err != nil {
		t.Fatalf("not exactly once: %v\n%s", err, rep)
	}
	if err := rep.ErrInOrder(); err != nil {
		t.Errorf("out of order: %v", err)
	}
	got := sink.of(id)
	if len(got) != g.seq[0]+g.seq[1] {
		t.Errorf("%d records, want %d", len(got), g.seq[0]+g.seq[1])
	}
	checkResource(t, got, id, g.name, image)
	for _, r := range got {
		if want := g.times[r.Body]; r.Timestamp != want {
			t.Fatalf("record %q: timestamp %d, want Docker's %d", short(r.Body), r.Timestamp, want)
		}
	}
}

func waitChecker(t *testing.T, c *seqcheck.Checker) {
	t.Helper()
	waitCheckerFor(t, c, fakeWait)
}

func waitCheckerFor(t *testing.T, c *seqcheck.Checker, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := c.Wait(ctx); err != nil {
		t.Fatalf("not every line arrived: %v\n%s", err, c.Report())
	}
}
