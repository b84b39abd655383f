package receiver

// Unit tests of the whole receiver against internal/testing/fakedocker, a fake
// Docker daemon spoken to by the real moby client. Every test waits on
// events (records delivered, requests received, streams opened, status
// reported); the only polling is for the receiver's own gauges, which no
// event announces (see eventually).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	otelreceiver "go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/goleak"
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

// ---------------------------------------------------------------------------
// Harness

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

func streamName(s int) string {
	if s == fakedocker.Stderr {
		return "stderr"
	}
	return "stdout"
}

// ---------------------------------------------------------------------------
// 1. Framing

func TestFakeFramingEveryMessageIsOneRecordWithoutItsNewline(t *testing.T) {
	base := time.Now().Truncate(time.Millisecond)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	type line struct {
		stream int
		text   string
		ts     time.Time
		want   want
	}
	tests := []struct {
		name  string
		tty   bool
		lines []line
	}{{
		name: "multiplexed stdout and stderr",
		lines: []line{
			{fakedocker.Stdout, "out one", at(1), want{stream: "stdout", body: "out one"}},
			{fakedocker.Stderr, "err one", at(2), want{stream: "stderr", body: "err one"}},
			{fakedocker.Stdout, "", at(3), want{stream: "stdout", body: ""}},
			{fakedocker.Stderr, "", at(3), want{stream: "stderr", body: ""}},
			{fakedocker.Stdout, "  spaced\tline  ", at(4), want{stream: "stdout", body: "  spaced\tline  "}},
			{fakedocker.Stdout, "carriage return kept\r", at(5), want{stream: "stdout", body: "carriage return kept\r"}},
			{fakedocker.Stderr, "same time as the next", at(6), want{stream: "stderr", body: "same time as the next"}},
			{fakedocker.Stdout, "same time as the previous", at(6), want{stream: "stdout", body: "same time as the previous"}},
			{fakedocker.Stderr, "2024-01-01T00:00:00.000000000Z looks like a timestamp", at(7), want{stream: "stderr", body: "2024-01-01T00:00:00.000000000Z looks like a timestamp"}},
			{fakedocker.Stdout, "last", at(8), want{stream: "stdout", body: "last"}},
		},
	}, {
		name: "tty",
		tty:  true,
		lines: []line{
			{fakedocker.Stdout, "hello\r", at(1), want{stream: "stdout", body: "hello"}},
			{fakedocker.Stdout, "\r", at(2), want{stream: "stdout", body: ""}},
			{fakedocker.Stdout, "", at(3), want{stream: "stdout", body: ""}},
			{fakedocker.Stdout, "no carriage return", at(4), want{stream: "stdout", body: "no carriage return"}},
			{fakedocker.Stdout, "inner\rcarriage return\r", at(5), want{stream: "stdout", body: "inner\rcarriage return"}},
			{fakedocker.Stdout, "two\r\r", at(6), want{stream: "stdout", body: "two\r"}},
			{fakedocker.Stderr, "sent on stderr\r", at(7), want{stream: "stdout", body: "sent on stderr"}},
			{fakedocker.Stdout, "last\r", at(8), want{stream: "stdout", body: "last"}},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedocker.New(t)
			id := running(d, fakedocker.Container{Name: "framing", Image: "app:1", TTY: tc.tty})
			var es []fakedocker.Entry
			var wants []want
			for _, l := range tc.lines {
				es = append(es, fakedocker.Entry{Time: l.ts, Stream: l.stream, Text: []byte(l.text)})
				w := l.want
				w.ts = l.ts
				wants = append(wants, w)
			}
			d.WriteEntries(id, es...)
			sink := &fakeSink{}
			startReceiver(t, fakeCfg(d), sink, nil)

			// A barrier line: everything before it in the log has been
			// delivered, duplicates included, once it arrives.
			barrier := d.WriteLines(id, fakedocker.Stdout, "barrier")
			got := sink.waitBody(t, id, "barrier")
			wants = append(wants, want{stream: "stdout", body: "barrier", ts: barrier[0]})
			checkRecords(t, got, wants)
			checkResource(t, got, id, "framing", "app:1")
		})
	}
}

// ---------------------------------------------------------------------------
// 2. Partial lines

func TestFakePartialLinesAreReassembledByteExact(t *testing.T) {
	// Each case writes its lines and returns the records it expects and
	// how many of them were merged from several parts.
	tests := []struct {
		name  string
		tty   bool
		write func(d *fakedocker.Daemon, id string) (wants []want, merged int64)
	}{{
		name: "multiplexed",
		write: func(d *fakedocker.Daemon, id string) ([]want, int64) {
			var wants []want
			// 16 KiB + 1 on stdout: two parts.
			long1 := pattern("a", fakedocker.DockerSplitSize+1)
			ts := d.WriteSplit(id, fakedocker.Stdout, long1, 0)
			wants = append(wants, want{stream: "stdout", body: long1, ts: ts})
			// 100 KiB on stderr: seven parts.
			long2 := pattern("b", 100<<10)
			ts = d.WriteSplit(id, fakedocker.Stderr, long2, 0)
			wants = append(wants, want{stream: "stderr", body: long2, ts: ts})
			// A 3-byte rune across the 16384 boundary: the first part ends
			// with its first byte, the second starts with the other two.
			utf := strings.Repeat("u", fakedocker.DockerSplitSize-1) + "€ and more: ü中😀"
			ts = d.WriteSplit(id, fakedocker.Stdout, utf, 0)
			wants = append(wants, want{stream: "stdout", body: utf, ts: ts})
			// Exactly 16 KiB: a full part, then a final part that is only "\n".
			exact := pattern("c", fakedocker.DockerSplitSize)
			ts = time.Now()
			d.WriteEntries(id,
				fakedocker.Entry{Time: ts, Stream: fakedocker.Stderr, Text: []byte(exact), Partial: true},
				fakedocker.Entry{Time: ts, Stream: fakedocker.Stderr, Text: nil})
			wants = append(wants, want{stream: "stderr", body: exact, ts: ts})
			// stdout and stderr parts interleaved; stderr's line completes first.
			tOut, tErr := time.Now().Add(time.Millisecond), time.Now().Add(2*time.Millisecond)
			outA, outB, outC := pattern("o", fakedocker.DockerSplitSize), pattern("p", fakedocker.DockerSplitSize), "stdout end"
			errA, errB := pattern("e", fakedocker.DockerSplitSize), "stderr end"
			d.WriteEntries(id,
				fakedocker.Entry{Time: tOut, Stream: fakedocker.Stdout, Text: []byte(outA), Partial: true},
				fakedocker.Entry{Time: tErr, Stream: fakedocker.Stderr, Text: []byte(errA), Partial: true},
				fakedocker.Entry{Time: tOut, Stream: fakedocker.Stdout, Text: []byte(outB), Partial: true},
				fakedocker.Entry{Time: tErr, Stream: fakedocker.Stderr, Text: []byte(errB)},
				fakedocker.Entry{Time: tOut, Stream: fakedocker.Stdout, Text: []byte(outC)},
			)
			wants = append(wants,
				want{stream: "stderr", body: errA + errB, ts: tErr},
				want{stream: "stdout", body: outA + outB + outC, ts: tOut})
			return wants, 6
		},
	}, {
		// A TTY stream has no frames: the receiver must tell a 16 KiB part
		// from a whole line, and strip the "\r" of the "\r\n" ending.
		name: "tty",
		tty:  true,
		write: func(d *fakedocker.Daemon, id string) ([]want, int64) {
			var wants []want
			long1 := pattern("a", fakedocker.DockerSplitSize+1)
			ts := d.WriteSplit(id, fakedocker.Stdout, long1+"\r", 0)
			wants = append(wants, want{stream: "stdout", body: long1, ts: ts})
			long2 := pattern("b", 100<<10)
			ts = d.WriteSplit(id, fakedocker.Stdout, long2+"\r", 0)
			wants = append(wants, want{stream: "stdout", body: long2, ts: ts})
			utf := strings.Repeat("u", fakedocker.DockerSplitSize-2) + "😀 and more"
			ts = d.WriteSplit(id, fakedocker.Stdout, utf+"\r", 0)
			wants = append(wants, want{stream: "stdout", body: utf, ts: ts})
			// The "\r" ends the first part; the final part is only "\n".
			crAtEdge := pattern("c", fakedocker.DockerSplitSize-1)
			ts = time.Now()
			d.WriteEntries(id,
				fakedocker.Entry{Time: ts, Text: []byte(crAtEdge + "\r"), Partial: true},
				fakedocker.Entry{Time: ts, Text: nil})
			wants = append(wants, want{stream: "stdout", body: crAtEdge, ts: ts})
			// The final part is only "\r\n".
			exact := pattern("d", fakedocker.DockerSplitSize)
			ts = d.WriteSplit(id, fakedocker.Stdout, exact+"\r", 0)
			wants = append(wants, want{stream: "stdout", body: exact, ts: ts})
			// A line of exactly 16 KiB - 2 with its "\r": one whole message
			// of 16 KiB - 1 bytes, not a part.
			almost := pattern("e", fakedocker.DockerSplitSize-2)
			ts = d.WriteSplit(id, fakedocker.Stdout, almost+"\r", 0)
			wants = append(wants, want{stream: "stdout", body: almost, ts: ts})
			short := "short\r"
			ts = d.WriteSplit(id, fakedocker.Stdout, short, 0)
			wants = append(wants, want{stream: "stdout", body: "short", ts: ts})
			return wants, 5
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedocker.New(t)
			id := running(d, fakedocker.Container{Name: "partials", Image: "registry.local:5000/team/app:v2", TTY: tc.tty})
			wants, merged := tc.write(d, id)
			barrier := "barrier"
			if tc.tty {
				barrier += "\r"
			}
			ts := d.WriteLines(id, fakedocker.Stdout, barrier)[0]
			wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})

			sink := &fakeSink{}
			tt, _ := startReceiver(t, fakeCfg(d), sink, nil)
			got := sink.waitBody(t, id, "barrier")
			checkRecords(t, got, wants)
			checkResource(t, got, id, "partials", "registry.local:5000/team/app:v2")
			for _, r := range got {
				if !utf8.ValidString(r.Body) {
					t.Errorf("record %q is not valid UTF-8", short(r.Body))
				}
			}
			if m := counter(t, tt, "dockerlogsrotating_lines_merged", "", ""); m != merged {
				t.Errorf("lines_merged = %d, want %d", m, merged)
			}
			if n := counter(t, tt, "dockerlogsrotating_lines_truncated", "", ""); n != 0 {
				t.Errorf("lines_truncated = %d, want 0", n)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 3. max_log_size

func TestFakeMaxLogSizeTruncatesLongLinesAndKeepsTheNextOnesIntact(t *testing.T) {
	const limit = 1 << 20
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "big", Image: "big:latest"})
	truncated := map[string]any{"docker.log.truncated": true}

	var wants []want
	ascii := pattern("x", 3<<20)
	ts := d.WriteSplit(id, fakedocker.Stdout, ascii, 0)
	wants = append(wants, want{stream: "stdout", body: ascii[:limit], ts: ts, attrs: truncated})
	ts = d.WriteLines(id, fakedocker.Stdout, "after ascii")[0]
	wants = append(wants, want{stream: "stdout", body: "after ascii", ts: ts})

	// 3-byte runes: 1 MiB = 349525 runes + 1 byte, so the cut must fall
	// one byte short of the limit, on a rune boundary.
	runes := strings.Repeat("€", (3<<20)/3)
	ts = d.WriteSplit(id, fakedocker.Stderr, runes, 0)
	wants = append(wants, want{stream: "stderr", body: runes[:limit-1], ts: ts, attrs: truncated})
	ts = d.WriteLines(id, fakedocker.Stderr, "after runes")[0]
	wants = append(wants, want{stream: "stderr", body: "after runes", ts: ts})

	// Exactly the limit is kept whole; one byte more is not.
	exact := pattern("y", limit)
	ts = d.WriteSplit(id, fakedocker.Stdout, exact, 0)
	wants = append(wants, want{stream: "stdout", body: exact, ts: ts})
	over := pattern("z", limit+1)
	ts = d.WriteSplit(id, fakedocker.Stdout, over, 0)
	wants = append(wants, want{stream: "stdout", body: over[:limit], ts: ts, attrs: truncated})
	ts = d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
	wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})

	cfg := fakeCfg(d)
	cfg.MaxLogSize = limit
	sink := &fakeSink{}
	tt, _ := startReceiver(t, cfg, sink, nil)
	got := sink.waitBody(t, id, "barrier")
	checkRecords(t, got, wants)
	checkResource(t, got, id, "big", "big:latest")
	for _, r := range got {
		if len(r.Body) > limit {
			t.Errorf("a record of %d bytes exceeds max_log_size %d", len(r.Body), limit)
		}
		if !utf8.ValidString(r.Body) {
			t.Errorf("record %q is not valid UTF-8", short(r.Body))
		}
	}
	if n := counter(t, tt, "dockerlogsrotating_lines_truncated", "", ""); n != 3 {
		t.Errorf("lines_truncated = %d, want 3", n)
	}
}

// ---------------------------------------------------------------------------
// 4. Invalid UTF-8

func TestFakeInvalidUTF8IsReplacedAndFlagged(t *testing.T) {
	const rc = "\uFFFD"
	invalid := map[string]any{"docker.log.invalid_utf8": true}
	tests := []struct {
		stream int
		text   string
		body   string
		attrs  map[string]any
	}{
		{fakedocker.Stdout, "ok\xffbad", "ok" + rc + "bad", invalid},
		{fakedocker.Stderr, "cut rune \xe2\x82", "cut rune " + rc + rc, invalid},
		{fakedocker.Stdout, "\xc0\xaf overlong", rc + rc + " overlong", invalid},
		{fakedocker.Stdout, "surrogate \xed\xa0\x80!", "surrogate " + rc + rc + rc + "!", invalid},
		{fakedocker.Stderr, "\x80", rc, invalid},
		{fakedocker.Stdout, "valid: héllo € 😀 " + rc, "valid: héllo € 😀 " + rc, nil},
	}
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "utf8", Image: "utf8:1"})
	base := time.Now()
	var wants []want
	for i, tc := range tests {
		ts := base.Add(time.Duration(i) * time.Microsecond)
		d.Write(id, fakedocker.Entry{Time: ts, Stream: tc.stream, Text: []byte(tc.text)})
		wants = append(wants, want{stream: streamName(tc.stream), body: tc.body, ts: ts, attrs: tc.attrs})
	}
	// Invalid bytes in a line Docker split: the merged line is checked.
	bad := strings.Repeat("s", fakedocker.DockerSplitSize) + "\xfe tail"
	ts := d.WriteSplit(id, fakedocker.Stdout, bad, 0)
	wants = append(wants, want{stream: "stdout", body: strings.Repeat("s", fakedocker.DockerSplitSize) + rc + " tail", ts: ts, attrs: invalid})
	ts = d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
	wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})

	sink := &fakeSink{}
	startReceiver(t, fakeCfg(d), sink, nil)
	got := sink.waitBody(t, id, "barrier")
	checkRecords(t, got, wants)
	checkResource(t, got, id, "utf8", "utf8:1")
}

// ---------------------------------------------------------------------------
// 5. Rotation exactness

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
	body := seqcheck.Format(g.name, streamName(stream), g.seq[i], size, false)
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

func TestFakeRotationDeliversEveryLineExactlyOnce(t *testing.T) {
	tests := []struct {
		engine string
		tty    bool
	}{
		{engine: "29.1.0"},   // since skips a prefix
		{engine: "20.10.24"}, // since filters every message
		{engine: "29.1.0", tty: true},
	}
	for _, tc := range tests {
		name := tc.engine
		if tc.tty {
			name += "/tty"
		}
		t.Run(name, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(tc.engine))
			reqs := watchRequests(d)
			const name = "rotating"
			id := running(d, fakedocker.Container{Name: name, Image: "gen:1", TTY: tc.tty})
			cfg := fakeCfg(d)
			cfg.RotationInterval = minRotationInterval
			sink := &fakeSink{}
			tt, _ := startReceiver(t, cfg, sink, nil)

			// Write chunk after chunk with at most two in flight, until at
			// least 3,000 lines went out and the stream was opened 7 times.
			g := newRotGen(name)
			g.tty = tc.tty
			var sent []int
			total := 0
			for total < 3000 || reqs.count(followLogs(id)) < 7 {
				if total > 200_000 {
					t.Fatalf("wrote %d lines but saw only %d stream opens", total, reqs.count(followLogs(id)))
				}
				es, n := g.chunk(40)
				d.WriteEntries(id, es...)
				total += n
				sent = append(sent, total)
				if len(sent) > 2 {
					sink.waitCount(t, id, sent[len(sent)-3])
				}
			}
			g.expect(&sink.Checker)
			waitChecker(t, &sink.Checker)

			// One more rotation after everything arrived, then a last line per
			// stream: a replay that duplicated anything would show up before it.
			reqs.waitRotation(t, id)
			var es []fakedocker.Entry
			es = append(es, g.line(fakedocker.Stdout, 20, g.clock.Add(time.Millisecond))...)
			es = append(es, g.line(fakedocker.Stderr, 20, g.clock.Add(time.Millisecond))...)
			d.WriteEntries(id, es...)
			g.expect(&sink.Checker)
			waitChecker(t, &sink.Checker)

			checkGenerated(t, sink, g, id, "gen:1")
			rotations := counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "rotation")
			gaps := counter(t, tt, "dockerlogsrotating_cursor_gaps", "", "")
			t.Logf("%d lines, %d stream opens, %d rotations, %d duplicates skipped, %d merged, %d gaps",
				total+2, reqs.count(followLogs(id)), rotations,
				counter(t, tt, "dockerlogsrotating_duplicates_skipped", "", ""),
				counter(t, tt, "dockerlogsrotating_lines_merged", "", ""), gaps)
			if rotations < 5 {
				t.Errorf("only %d rotations; the test needs at least 5", rotations)
			}
			if gaps != 0 {
				t.Errorf("cursor_gaps = %d: a resume point was not found in a log nothing rotated away", gaps)
			}
		})
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

func TestFakeRotationIdenticalTimestampsAcrossReopenDeliveredExactlyOnce(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			reqs := watchRequests(d)
			id := running(d, fakedocker.Container{Name: "same-ts", Image: "same:1"})
			cfg := fakeCfg(d)
			cfg.RotationInterval = minRotationInterval
			sink := &fakeSink{}
			startReceiver(t, cfg, sink, nil)

			ts := time.Now()
			var wants []want
			write := func(stream int, body string) {
				d.Write(id, fakedocker.Entry{Time: ts, Stream: stream, Text: []byte(body)})
				wants = append(wants, want{stream: streamName(stream), body: body, ts: ts})
			}
			// k = 5 lines with one timestamp, delivered before a reopen...
			for i := 1; i <= 4; i++ {
				write(fakedocker.Stdout, fmt.Sprintf("same %d", i))
			}
			write(fakedocker.Stderr, "same err 1")
			sink.waitCount(t, id, 5)
			reqs.waitRotation(t, id)
			// ...then more with the very same timestamp after it, one of
			// them split, so the resumed stream starts inside the group.
			for i := 5; i <= 7; i++ {
				write(fakedocker.Stdout, fmt.Sprintf("same %d", i))
			}
			long := pattern("same", fakedocker.DockerSplitSize+100)
			d.WriteEntries(id, splitEntries(fakedocker.Stderr, ts, long, fakedocker.DockerSplitSize)...)
			wants = append(wants, want{stream: "stderr", body: long, ts: ts})
			sink.waitCount(t, id, 9)
			reqs.waitRotation(t, id)
			write(fakedocker.Stdout, "same 8")
			reqs.waitRotation(t, id)
			bt := d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
			wants = append(wants, want{stream: "stdout", body: "barrier", ts: bt})

			got := sink.waitBody(t, id, "barrier")
			checkRecords(t, got, wants)
			checkResource(t, got, id, "same-ts", "same:1")
		})
	}
}

// TestFakeRotationInsideALineResumesWithoutLossOrDuplicate reopens the
// stream while a split line is half read and while the rest of a truncated
// line is being dropped; the resumed stream must rebuild the one and keep
// dropping the other.
func TestFakeRotationInsideALineResumesWithoutLossOrDuplicate(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			reqs := watchRequests(d)
			id := running(d, fakedocker.Container{Name: "mid-line", Image: "mid:1"})
			cfg := fakeCfg(d)
			cfg.RotationInterval = minRotationInterval
			cfg.MaxLogSize = 40000
			sink := &fakeSink{}
			tt, _ := startReceiver(t, cfg, sink, nil)
			const part = fakedocker.DockerSplitSize
			entry := func(ts time.Time, stream int, text string, partial bool) fakedocker.Entry {
				return fakedocker.Entry{Time: ts, Stream: stream, Text: []byte(text), Partial: partial}
			}
			var wants []want

			// A stdout line of three parts, with a whole stderr line between
			// its parts and a reopen after each of its first two parts.
			tSplit := time.Now()
			p1, p2, p3 := pattern("p", part), pattern("q", part), "end of the split line"
			d.WriteEntries(id, entry(tSplit, fakedocker.Stdout, p1, true))
			tErr := tSplit.Add(time.Microsecond)
			d.WriteEntries(id, entry(tErr, fakedocker.Stderr, "stderr between parts", false))
			wants = append(wants, want{stream: "stderr", body: "stderr between parts", ts: tErr})
			sink.waitBody(t, id, "stderr between parts")
			reqs.waitRotation(t, id)
			// The same parts may be replayed: reopen once more mid-line.
			d.WriteEntries(id, entry(tSplit, fakedocker.Stdout, p2, true))
			reqs.waitRotation(t, id)
			reqs.waitRotation(t, id)
			d.WriteEntries(id, entry(tSplit, fakedocker.Stdout, p3, false))
			wants = append(wants, want{stream: "stdout", body: p1 + p2 + p3, ts: tSplit})
			sink.waitBody(t, id, p1+p2+p3)

			// A stderr line of five parts over max_log_size (40000): it is
			// emitted truncated with its third part; a reopen comes while
			// the rest is dropped.
			tBig := time.Now()
			big := pattern("big", 5*part-10)
			parts := splitEntries(fakedocker.Stderr, tBig, big, part)
			d.WriteEntries(id, parts[:3]...)
			wants = append(wants, want{stream: "stderr", body: big[:40000], ts: tBig, attrs: map[string]any{"docker.log.truncated": true}})
			sink.waitCount(t, id, len(wants))
			reqs.waitRotation(t, id)
			d.WriteEntries(id, parts[3])
			reqs.waitRotation(t, id)
			d.WriteEntries(id, parts[4])
			tAfter := tBig.Add(time.Microsecond)
			d.WriteEntries(id, entry(tAfter, fakedocker.Stderr, "stderr after the big line", false))
			wants = append(wants, want{stream: "stderr", body: "stderr after the big line", ts: tAfter})
			sink.waitBody(t, id, "stderr after the big line")

			reqs.waitRotation(t, id)
			ts := d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
			wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})
			got := sink.waitBody(t, id, "barrier")
			checkRecords(t, got, wants)
			checkResource(t, got, id, "mid-line", "mid:1")
			if n := counter(t, tt, "dockerlogsrotating_lines_truncated", "", ""); n != 1 {
				t.Errorf("lines_truncated = %d, want 1", n)
			}
			if n := counter(t, tt, "dockerlogsrotating_lines_merged", "", ""); n != 2 {
				t.Errorf("lines_merged = %d, want 2", n)
			}
		})
	}
}

// TestFakeReplayCutShortKeepsSkippingEmittedLines: stderr lines complete
// while a stdout line is still arriving in parts, so the position cannot
// move past them and a reopen must rebuild and drop them. The reopen is cut
// in the middle of that replay; the next one must still drop all of them.
func TestFakeReplayCutShortKeepsSkippingEmittedLines(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			reqs := watchRequests(d)
			id := running(d, fakedocker.Container{Name: "replay", Image: "replay:1"})
			cfg := fakeCfg(d)
			cfg.RotationInterval = minRotationInterval
			sink := &fakeSink{}
			tt, _ := startReceiver(t, cfg, sink, nil)

			base := time.Now()
			start := fakedocker.Entry{Time: base, Stream: fakedocker.Stdout, Text: []byte("start")}
			head := fakedocker.Entry{Time: base.Add(time.Microsecond), Stream: fakedocker.Stdout, Text: []byte(pattern("h", fakedocker.DockerSplitSize)), Partial: true}
			var errs []fakedocker.Entry
			for i := 1; i <= 3; i++ {
				errs = append(errs, fakedocker.Entry{Time: base.Add(time.Duration(1+i) * time.Microsecond), Stream: fakedocker.Stderr, Text: []byte(fmt.Sprintf("err %d", i))})
			}
			wants := []want{{stream: "stdout", body: "start", ts: start.Time}}
			for _, e := range errs {
				wants = append(wants, want{stream: "stderr", body: string(e.Text), ts: e.Time})
			}
			d.WriteEntries(id, start)
			sink.waitBody(t, id, "start")
			d.WriteEntries(id, append([]fakedocker.Entry{head}, errs...)...)
			sink.waitBody(t, id, "err 3")

			// Cut the next stream in the middle of "err 2": the replay has
			// rebuilt (and dropped) "err 1" only.
			cut := 5
			for _, e := range []fakedocker.Entry{start, head, errs[0]} {
				cut += 8 + len(fakedocker.FormatLine(e, true))
			}
			var mu sync.Mutex
			armed := true
			d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
				mu.Lock()
				fire := armed && req.Query.Get("follow") == "1"
				armed = armed && !fire
				mu.Unlock()
				if fire {
					w.CutAfter(cut)
				}
				return fire
			})
			errors0 := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "read")
			reqs.waitRotation(t, id) // the cut stream
			reqs.waitRotation(t, id) // the one after it
			if e := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "read"); e != errors0+1 {
				t.Errorf("stream_errors{error.type=read} went from %d to %d, want one cut", errors0, e)
			}

			tail := fakedocker.Entry{Time: head.Time, Stream: fakedocker.Stdout, Text: []byte("tail")}
			e4 := fakedocker.Entry{Time: base.Add(10 * time.Microsecond), Stream: fakedocker.Stderr, Text: []byte("err 4")}
			d.WriteEntries(id, tail, e4)
			wants = append(wants,
				want{stream: "stdout", body: string(head.Text) + "tail", ts: head.Time},
				want{stream: "stderr", body: "err 4", ts: e4.Time})
			sink.waitBody(t, id, "err 4")
			reqs.waitRotation(t, id)
			ts := d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
			wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})
			got := sink.waitBody(t, id, "barrier")
			checkRecords(t, got, wants)
		})
	}
}

// TestFakeStreamCapSharesSlotsAtRotation follows three containers through
// one stream slot: at each rotation the slot goes to the next container,
// and every line of every container arrives exactly once.
func TestFakeStreamCapSharesSlotsAtRotation(t *testing.T) {
	d := fakedocker.New(t)
	reqs := watchRequests(d)
	names := []string{"cap-a", "cap-b", "cap-c"}
	ids := make([]string, len(names))
	gens := make([]*rotGen, len(names))
	for i, n := range names {
		ids[i] = running(d, fakedocker.Container{Name: n, Image: "cap:1"})
		gens[i] = newRotGen(n)
	}
	cfg := fakeCfg(d)
	cfg.RotationInterval = minRotationInterval
	cfg.MaxConcurrentStreams = 1
	sink := &fakeSink{}
	tt, _ := startReceiver(t, cfg, sink, nil)

	// Write to every container until each has had its stream opened three
	// times (so each gave the slot away at least twice).
	for round := 0; ; round++ {
		done := true
		for i, id := range ids {
			es, _ := gens[i].chunk(20)
			d.WriteEntries(id, es...)
			if reqs.count(followLogs(id)) < 3 {
				done = false
			}
		}
		if done {
			break
		}
		if round > 100_000 {
			t.Fatal("the slot does not go round")
		}
		// Pace by delivery: wait for a container that holds the slot.
		first := gens[0].seq[0] + gens[0].seq[1]
		if round%10 == 9 {
			sink.waitCount(t, ids[0], first)
		}
	}
	for i, g := range gens {
		sink.Checker.Expect(names[i], "stdout", g.seq[0])
		sink.Checker.Expect(names[i], "stderr", g.seq[1])
	}
	waitChecker(t, &sink.Checker)
	for i, id := range ids {
		reqs.waitRotation(t, id)
		g := gens[i]
		d.WriteEntries(id, g.line(fakedocker.Stdout, 20, g.clock.Add(time.Millisecond))...)
		sink.Checker.Expect(names[i], "stdout", g.seq[0])
	}
	waitChecker(t, &sink.Checker)
	if err := sink.Checker.Report().Err(); err != nil {
		t.Fatalf("not exactly once: %v\n%s", err, sink.Checker.Report())
	}
	if _, n := histogramMax(t, tt, "dockerlogsrotating_pool_wait"); n == 0 {
		t.Error("pool_wait recorded nothing")
	}
	for i, id := range ids {
		checkResource(t, sink.of(id), id, names[i], "cap:1")
	}
}

// ---------------------------------------------------------------------------
// 6. EOF mid-line

func TestFakeLeftoverAtStopIsEmittedOnceAndNotAgainAfterRestart(t *testing.T) {
	tests := []struct {
		name  string
		parts map[int][]string // stream -> parts of the unfinished line
		// reopen makes the stream rotate between the parts and the stop.
		reopen bool
	}{
		{name: "one part", parts: map[int][]string{fakedocker.Stdout: {"no newline"}}},
		{name: "two parts", parts: map[int][]string{fakedocker.Stdout: {pattern("l", fakedocker.DockerSplitSize), "rest"}}},
		{name: "both streams", parts: map[int][]string{fakedocker.Stdout: {"out left"}, fakedocker.Stderr: {pattern("m", fakedocker.DockerSplitSize), "err left"}}},
		{name: "reopened before the stop", parts: map[int][]string{fakedocker.Stdout: {pattern("n", fakedocker.DockerSplitSize), "rest"}, fakedocker.Stderr: {"err left"}}, reopen: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedocker.New(t)
			reqs := watchRequests(d)
			id := running(d, fakedocker.Container{Name: "leftover", Image: "left:1"})
			cfg := fakeCfg(d)
			cfg.RotationInterval = minRotationInterval
			sink := &fakeSink{}
			startReceiver(t, cfg, sink, nil)

			var wants []want
			ts := d.WriteLines(id, fakedocker.Stdout, "first")[0]
			wants = append(wants, want{stream: "stdout", body: "first", ts: ts})
			sink.waitCount(t, id, 1)

			lt := time.Now()
			var es []fakedocker.Entry
			for _, s := range []int{fakedocker.Stdout, fakedocker.Stderr} {
				parts := tc.parts[s]
				if parts == nil {
					continue
				}
				for _, p := range parts {
					es = append(es, fakedocker.Entry{Time: lt, Stream: s, Text: []byte(p), Partial: true})
				}
				wants = append(wants, want{stream: streamName(s), body: strings.Join(parts, ""), ts: lt})
			}
			d.WriteEntries(id, es...)
			if tc.reopen {
				reqs.waitRotation(t, id)
				reqs.waitRotation(t, id)
			}
			d.Stop(id)
			sink.waitCount(t, id, len(wants))

			d.Start(id)
			for _, b := range []string{"second", "third"} {
				ts := d.WriteLines(id, fakedocker.Stdout, b)[0]
				wants = append(wants, want{stream: "stdout", body: b, ts: ts})
			}
			sink.waitBody(t, id, "third")
			// A rotation resumes after the leftover, not before it.
			reqs.waitRotation(t, id)
			ts = d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
			wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})
			got := sink.waitBody(t, id, "barrier")
			checkRecords(t, got, wants)
			checkResource(t, got, id, "leftover", "left:1")
		})
	}
}

// TestFakeLeftoverReadFromHistoryIsTheSameRecordAsReadLive reads, from the
// beginning, a log where a run ended in the middle of a line and the next
// run wrote more: the leftover is one record of its own, not glued to the
// next run's line, and the same record a live follower emits at the stop
// (TestFakeLeftoverAtStop...): no docker.log.truncated, which means "longer
// than max_log_size" or "Docker rotated its file mid-line" (README).
func TestFakeLeftoverReadFromHistoryIsTheSameRecordAsReadLive(t *testing.T) {
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "history", Image: "hist:1"})
	var wants []want
	ts := d.WriteLines(id, fakedocker.Stdout, "run 1")[0]
	wants = append(wants, want{stream: "stdout", body: "run 1", ts: ts})
	lt := time.Now()
	d.WriteEntries(id,
		fakedocker.Entry{Time: lt, Stream: fakedocker.Stdout, Text: []byte("left "), Partial: true},
		fakedocker.Entry{Time: lt, Stream: fakedocker.Stdout, Text: []byte("over"), Partial: true})
	wants = append(wants, want{stream: "stdout", body: "left over", ts: lt})
	d.Stop(id)
	d.Start(id)
	ts = d.WriteLines(id, fakedocker.Stdout, "run 2")[0]
	wants = append(wants, want{stream: "stdout", body: "run 2", ts: ts})

	cfg := fakeCfg(d)
	cfg.RotationInterval = minRotationInterval
	reqs := watchRequests(d)
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, nil)
	sink.waitBody(t, id, "run 2")
	reqs.waitRotation(t, id)
	ts = d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
	wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})
	got := sink.waitBody(t, id, "barrier")
	checkRecords(t, got, wants)
}

// TestFakeStreamCutMidFrameResumesExactly cuts the first follow streams in
// the middle of frames; each reopen resumes exactly where the consumer
// stopped.
func TestFakeStreamCutMidFrameResumesExactly(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			reqs := watchRequests(d)
			const name = "cut"
			id := running(d, fakedocker.Container{Name: name, Image: "cut:1"})
			g := newRotGen(name)
			es, _ := g.chunk(400)
			d.WriteEntries(id, es...)
			var opens sync.Mutex
			n := 0
			d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
				if req.Query.Get("follow") != "1" {
					return false
				}
				opens.Lock()
				n++
				k := n
				opens.Unlock()
				if k <= 3 {
					w.CutAfter(k * 20011) // inside a frame, some inside a split line
					return true
				}
				return false
			})
			sink := &fakeSink{}
			tt, _ := startReceiver(t, fakeCfg(d), sink, nil)
			reqs.waitCount(t, "follow", 4, followLogs(id))
			es, _ = g.chunk(100)
			d.WriteEntries(id, es...)
			g.expect(&sink.Checker)
			waitChecker(t, &sink.Checker)
			// A last line after everything: a late duplicate shows before it.
			d.WriteEntries(id, g.line(fakedocker.Stdout, 10, g.clock.Add(time.Millisecond))...)
			g.expect(&sink.Checker)
			waitChecker(t, &sink.Checker)
			checkGenerated(t, sink, g, id, "cut:1")
			if e := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "read"); e < 3 {
				t.Errorf("stream_errors{error.type=read} = %d, want >= 3", e)
			}
			if gaps := counter(t, tt, "dockerlogsrotating_cursor_gaps", "", ""); gaps != 0 {
				t.Errorf("cursor_gaps = %d", gaps)
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

// ---------------------------------------------------------------------------
// 7. Logging driver that cannot be read

func TestFakeUnsupportedDriverIsCountedOnceAndNotRetried(t *testing.T) {
	d := fakedocker.New(t)
	reqs := watchRequests(d)
	none := running(d, fakedocker.Container{Name: "nolog", Image: "quiet:1", LogDriver: "none"})
	ok := running(d, fakedocker.Container{Name: "ok", Image: "ok:1"})
	okTS := d.WriteLines(ok, fakedocker.Stdout, "from ok")[0]

	cfg := fakeCfg(d)
	cfg.ResyncInterval = 200 * time.Millisecond
	sink := &fakeSink{}
	tt, _ := startReceiver(t, cfg, sink, nil)
	sink.waitCount(t, ok, 1)

	// A restart sends die and start events: each makes discovery inspect it.
	inspects := reqs.count(pathIs("/containers/" + none + "/json"))
	d.Stop(none)
	d.Start(none)
	reqs.waitCount(t, "inspect of nolog", inspects+2, pathIs("/containers/"+none+"/json"))
	// Several resyncs list it again.
	lists := reqs.count(pathIs("/containers/json"))
	reqs.waitCount(t, "container list", lists+4, pathIs("/containers/json"))

	ts := d.WriteLines(ok, fakedocker.Stdout, "barrier")[0]
	sink.waitBody(t, ok, "barrier")
	if n := reqs.count(anyLogs(none)); n != 1 {
		t.Errorf("%d /logs requests for the container with driver none, want 1", n)
	}
	if recs := sink.of(none); len(recs) != 0 {
		t.Errorf("records from a container with driver none:\n%s", describe(recs))
	}
	checkRecords(t, sink.of(ok), []want{{stream: "stdout", body: "from ok", ts: okTS}, {stream: "stdout", body: "barrier", ts: ts}})
	checkResource(t, sink.of(ok), ok, "ok", "ok:1")
	if n := counter(t, tt, "dockerlogsrotating_containers_unsupported", "", ""); n != 1 {
		t.Errorf("containers_unsupported = %d, want 1", n)
	}
	if n := counter(t, tt, "dockerlogsrotating_containers_watched", "", ""); n != 1 {
		t.Errorf("containers_watched = %d, want 1 (only ok)", n)
	}
}

// ---------------------------------------------------------------------------
// 8. start_at

func TestFakeStartAtEndSkipsHistoryButReadsNewContainersFromTheirStart(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			old := running(d, fakedocker.Container{Name: "old", Image: "old:1"})
			d.WriteLines(old, fakedocker.Stdout, "old before 1", "old before 2")
			d.WriteLines(old, fakedocker.Stderr, "old before 3")
			// Stopped when the receiver starts; started again later.
			d.AddContainer(fakedocker.Container{Name: "again", Image: "again:1"})
			again := d.ContainerID("again")
			d.Start(again)
			d.WriteLines(again, fakedocker.Stdout, "again run 1")
			d.Stop(again)

			cfg := fakeCfg(d)
			cfg.StartAt = StartAtEnd
			sink := &fakeSink{}
			startReceiver(t, cfg, sink, nil)
			// The follow stream of old is open (or its tail=1 request has
			// read the log): whatever is written now is new.
			ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
			defer cancel()
			must(t, d.WaitLogStreams(ctx, 1))
			must(t, d.WaitEventStreams(ctx, 1))

			var oldWants, newWants, againWants []want
			for _, b := range []string{"old after 1", "old after 2"} {
				ts := d.WriteLines(old, fakedocker.Stdout, b)[0]
				oldWants = append(oldWants, want{stream: "stdout", body: b, ts: ts})
			}
			ts := d.WriteLines(old, fakedocker.Stderr, "old after 3")[0]
			oldWants = append(oldWants, want{stream: "stderr", body: "old after 3", ts: ts})

			newID := running(d, fakedocker.Container{Name: "new", Image: "new:1"})
			for _, b := range []string{"new 1", "new 2"} {
				ts := d.WriteLines(newID, fakedocker.Stdout, b)[0]
				newWants = append(newWants, want{stream: "stdout", body: b, ts: ts})
			}
			d.Start(again)
			ts = d.WriteLines(again, fakedocker.Stdout, "again run 2")[0]
			againWants = append(againWants, want{stream: "stdout", body: "again run 2", ts: ts})

			for _, c := range []struct {
				id, name, image string
				wants           []want
			}{{old, "old", "old:1", oldWants}, {newID, "new", "new:1", newWants}, {again, "again", "again:1", againWants}} {
				ts := d.WriteLines(c.id, fakedocker.Stdout, "barrier")[0]
				got := sink.waitBody(t, c.id, "barrier")
				checkRecords(t, got, append(c.wants, want{stream: "stdout", body: "barrier", ts: ts}))
				checkResource(t, got, c.id, c.name, c.image)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// 9. Discovery

func TestFakeDiscoveryFindsContainersStartedLaterThroughEvents(t *testing.T) {
	d := fakedocker.New(t)
	reqs := watchRequests(d)
	cfg := fakeCfg(d)
	cfg.ResyncInterval = time.Hour // only the event stream can find it
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, nil)
	ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
	defer cancel()
	must(t, d.WaitEventStreams(ctx, 1))
	reqs.waitCount(t, "container list", 1, pathIs("/containers/json"))

	id := running(d, fakedocker.Container{Name: "late", Image: "late:2", Labels: map[string]string{"a": "b"}})
	ts := d.WriteLines(id, fakedocker.Stderr, "late line")
	got := sink.waitCount(t, id, 1)
	checkRecords(t, got, []want{{stream: "stderr", body: "late line", ts: ts[0]}})
	checkResource(t, got, id, "late", "late:2")

	// A container that runs and exits at once, maybe before discovery
	// inspects it: its lines are read all the same, once.
	d.AddContainer(fakedocker.Container{Name: "brief", Image: "brief:1"})
	brief := d.ContainerID("brief")
	d.Start(brief)
	var wants []want
	for _, b := range []string{"brief 1", "brief 2"} {
		ts := d.WriteLines(brief, fakedocker.Stdout, b)[0]
		wants = append(wants, want{stream: "stdout", body: b, ts: ts})
	}
	d.Stop(brief)
	sink.waitCount(t, brief, 2)
	d.Start(brief)
	bt := d.WriteLines(brief, fakedocker.Stdout, "barrier")[0]
	wants = append(wants, want{stream: "stdout", body: "barrier", ts: bt})
	got = sink.waitBody(t, brief, "barrier")
	checkRecords(t, got, wants)
	checkResource(t, got, brief, "brief", "brief:1")

	if n := reqs.count(pathIs("/containers/json")); n != 1 {
		t.Errorf("%d container lists; the containers must have been found through events", n)
	}
}

func TestFakeDiscoveryIncludeExcludeSelectContainers(t *testing.T) {
	type ctr struct {
		name, image string
		labels      map[string]string
		in          bool
	}
	tests := []struct {
		name             string
		include, exclude MatchConfig
		ctrs             []ctr
	}{
		{name: "include name glob", include: MatchConfig{Names: []string{"web-*"}},
			ctrs: []ctr{{name: "web-1", in: true}, {name: "db"}, {name: "my-web-1"}}},
		{name: "include name regexp", include: MatchConfig{Names: []string{"/^api-[0-9]+$/"}},
			ctrs: []ctr{{name: "api-12", in: true}, {name: "api-x"}, {name: "xapi-1"}}},
		{name: "include image glob", include: MatchConfig{Images: []string{"nginx:*"}},
			ctrs: []ctr{{name: "a", image: "nginx:1.27", in: true}, {name: "b", image: "nginx"}, {name: "c", image: "redis:7"}}},
		{name: "include image regexp", include: MatchConfig{Images: []string{"/team/"}},
			ctrs: []ctr{{name: "a", image: "registry.local:5000/team/app:v2", in: true}, {name: "b", image: "other/app"}}},
		{name: "include label value", include: MatchConfig{Labels: []string{"env=prod"}},
			ctrs: []ctr{{name: "a", labels: map[string]string{"env": "prod"}, in: true}, {name: "b", labels: map[string]string{"env": "dev"}}, {name: "c"}}},
		{name: "include label key", include: MatchConfig{Labels: []string{"team"}},
			ctrs: []ctr{{name: "a", labels: map[string]string{"team": ""}, in: true}, {name: "b", labels: map[string]string{"teams": "x"}}}},
		{name: "exclude name", exclude: MatchConfig{Names: []string{"*-debug"}},
			ctrs: []ctr{{name: "web", in: true}, {name: "web-debug"}}},
		{name: "exclude image", exclude: MatchConfig{Images: []string{"/busybox/"}},
			ctrs: []ctr{{name: "a", image: "alpine:3", in: true}, {name: "b", image: "busybox:latest"}}},
		{name: "exclude label", exclude: MatchConfig{Labels: []string{"logging=off"}},
			ctrs: []ctr{{name: "a", labels: map[string]string{"logging": "on"}, in: true}, {name: "b", labels: map[string]string{"logging": "off"}}}},
		{name: "exclude wins over include",
			include: MatchConfig{Names: []string{"web-*"}, Labels: []string{"env=prod"}},
			exclude: MatchConfig{Labels: []string{"logging=off"}},
			ctrs: []ctr{
				{name: "web-a", labels: map[string]string{"env": "prod"}, in: true},
				{name: "web-b", labels: map[string]string{"env": "prod", "logging": "off"}},
				{name: "web-c", labels: map[string]string{"env": "dev"}},
				{name: "db", labels: map[string]string{"env": "prod"}},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedocker.New(t)
			reqs := watchRequests(d)
			ids := map[string]string{}
			stamps := map[string]time.Time{}
			for _, c := range tc.ctrs {
				id := running(d, fakedocker.Container{Name: c.name, Image: c.image, Labels: c.labels})
				ids[c.name] = id
				stamps[c.name] = d.WriteLines(id, fakedocker.Stdout, "hello from "+c.name)[0]
			}
			cfg := fakeCfg(d)
			cfg.ResyncInterval = 200 * time.Millisecond
			cfg.Include, cfg.Exclude = tc.include, tc.exclude
			sink := &fakeSink{}
			tt, _ := startReceiver(t, cfg, sink, nil)
			included := 0
			for _, c := range tc.ctrs {
				if c.in {
					included++
					sink.waitCount(t, ids[c.name], 1)
				}
			}
			// The second listing starts after the first one handled every
			// container.
			reqs.waitCount(t, "container list", 2, pathIs("/containers/json"))
			for _, c := range tc.ctrs {
				if c.in {
					continue
				}
				if n := reqs.count(anyLogs(ids[c.name])); n != 0 {
					t.Errorf("%s is not selected but its log was requested %d times", c.name, n)
				}
				if recs := sink.of(ids[c.name]); len(recs) != 0 {
					t.Errorf("%s is not selected but delivered:\n%s", c.name, describe(recs))
				}
			}
			for _, c := range tc.ctrs {
				if !c.in {
					continue
				}
				ts := d.WriteLines(ids[c.name], fakedocker.Stdout, "barrier")[0]
				got := sink.waitBody(t, ids[c.name], "barrier")
				checkRecords(t, got, []want{
					{stream: "stdout", body: "hello from " + c.name, ts: stamps[c.name]},
					{stream: "stdout", body: "barrier", ts: ts}})
				image := c.image
				if image == "" {
					image = "busybox:latest"
				}
				checkResource(t, got, ids[c.name], c.name, image)
			}
			if n := counter(t, tt, "dockerlogsrotating_containers_watched", "", ""); n != int64(included) {
				t.Errorf("containers_watched = %d, want %d", n, included)
			}
		})
	}
}

func TestFakeDiscoveryRenameUpdatesContainerNameOfLaterRecords(t *testing.T) {
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "before", Image: "ren:1"})
	sink := &fakeSink{}
	startReceiver(t, fakeCfg(d), sink, nil)
	d.WriteLines(id, fakedocker.Stdout, "line 0")
	sink.waitCount(t, id, 1)

	d.Rename(id, "after")
	// The rename reaches the follower through the event stream at some
	// point: write one line at a time until a record carries the new name.
	n := 1
	for {
		n++
		body := fmt.Sprintf("line %d", n-1)
		d.WriteLines(id, fakedocker.Stdout, body)
		got := sink.waitBody(t, id, body)
		if got[len(got)-1].Container == "after" {
			break
		}
		if n > 10_000 {
			t.Fatal("the new name never reached the records")
		}
	}
	for i := 0; i < 3; i++ {
		d.WriteLines(id, fakedocker.Stdout, fmt.Sprintf("renamed %d", i))
	}
	got := sink.waitBody(t, id, "renamed 2")
	renamed := false
	for i, r := range got {
		if r.Body != fmt.Sprintf("line %d", i) && i < n {
			t.Errorf("record %d is %q: lost or duplicated", i, r.Body)
		}
		switch {
		case r.Container == "after":
			renamed = true
			checkResource(t, got[i:i+1], id, "after", "ren:1")
		case renamed:
			t.Errorf("record %d (%q) has the old name after one had the new", i, r.Body)
		default:
			checkResource(t, got[i:i+1], id, "before", "ren:1")
		}
	}
	if len(got) != n+3 {
		t.Errorf("%d records, want %d:\n%s", len(got), n+3, describe(got))
	}
}

func TestFakeLabelsAndEnvAreCopiedToTheResource(t *testing.T) {
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{
		Name: "mapped", Image: "map:1",
		Labels: map[string]string{"com.example.service": "checkout", "unmapped": "x"},
		Env:    []string{"DEPLOY_ENV=prod", "EMPTY=", "PATH=/bin"},
	})
	ts := d.WriteLines(id, fakedocker.Stdout, "hello")[0]
	cfg := fakeCfg(d)
	cfg.APIVersion = "1.41" // multiplexed body announced as raw-stream
	cfg.LabelsToAttributes = map[string]string{"com.example.service": "service.name", "missing": "never.set"}
	cfg.EnvToAttributes = map[string]string{"DEPLOY_ENV": "deployment.environment", "EMPTY": "empty.env"}
	cfg.ResourceAttributes.ContainerHostname.Enabled = true
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, nil)
	got := sink.waitCount(t, id, 1)
	checkRecords(t, got, []want{{stream: "stdout", body: "hello", ts: ts}})
	wantRes := fmt.Sprint(map[string]any{
		"container.id": id, "container.name": "mapped", "container.image.name": "map",
		"container.image.tags": []any{"1"}, "container.image.id": got[0].Resource["container.image.id"],
		"container.runtime.name": "docker", "container.runtime.version": d.EngineVersion(),
		"container.hostname": id[:12], "host.name": fakedocker.DefaultInfo.Name,
		"service.name": "checkout", "deployment.environment": "prod", "empty.env": "",
	})
	if res := fmt.Sprint(got[0].Resource); res != wantRes {
		t.Errorf("resource %s, want %s", res, wantRes)
	}
	for _, r := range d.RequestsTo("/containers/" + id + "/logs") {
		if r.APIVersion != "1.41" {
			t.Errorf("/logs requested with API %q, want the pinned 1.41", r.APIVersion)
		}
	}
}

func TestFakeDiscoveryRemovedContainerFollowerStops(t *testing.T) {
	d := fakedocker.New(t)
	reqs := watchRequests(d)
	id := running(d, fakedocker.Container{Name: "doomed", Image: "doomed:1"})
	keep := running(d, fakedocker.Container{Name: "keep", Image: "keep:1"})
	d.WriteLines(id, fakedocker.Stdout, "last words")
	cfg := fakeCfg(d)
	cfg.ResyncInterval = 200 * time.Millisecond
	sink := &fakeSink{}
	tt, _ := startReceiver(t, cfg, sink, nil)
	sink.waitCount(t, id, 1)
	watched := func() int64 { return counter(t, tt, "dockerlogsrotating_containers_watched", "", "") }
	// The second listing starts after the first one upserted both.
	reqs.waitCount(t, "container list", 2, pathIs("/containers/json"))
	if w := watched(); w != 2 {
		t.Fatalf("containers_watched = %d, want 2", w)
	}

	d.Remove(id)
	d.Remove(keep)
	eventually(t, "containers_watched is back to 0", func() bool { return watched() == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
	defer cancel()
	must(t, d.WaitLogStreams(ctx, 0))
	// Later listings do not bring it back.
	logs := reqs.count(anyLogs(id))
	lists := reqs.count(pathIs("/containers/json"))
	reqs.waitCount(t, "container list", lists+2, pathIs("/containers/json"))
	if n := reqs.count(anyLogs(id)); n != logs {
		t.Errorf("%d more /logs requests for a removed container", n-logs)
	}
	if w := watched(); w != 0 {
		t.Errorf("containers_watched = %d after removal", w)
	}
	if got := sink.of(id); len(got) != 1 {
		t.Errorf("records of the removed container:\n%s", describe(got))
	}
}

// ---------------------------------------------------------------------------
// 10. Daemon down at Start

func TestFakeDaemonDownAtStartStartsFastAndShutsDownPromptly(t *testing.T) {
	dir := shortTempDir(t)
	cfg := testConfig("unix://" + filepath.Join(dir, "docker.sock"))
	host := newStatusHost()
	tt := componenttest.NewTelemetry()
	defer func() { _ = tt.Shutdown(context.Background()) }()
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tt.NewTelemetrySettings()
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, &fakeSink{})
	must(t, err)

	began := time.Now()
	must(t, r.Start(context.Background(), host))
	if took := time.Since(began); took > time.Second {
		t.Errorf("Start took %v with the daemon down", took)
	}
	host.waitStatus(t, 0, componentstatus.StatusRecoverableError)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	began = time.Now()
	must(t, r.Shutdown(ctx))
	if took := time.Since(began); took > time.Second {
		t.Errorf("Shutdown took %v", took)
	}
	if n := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "connect"); n < 1 {
		t.Errorf("stream_errors{error.type=connect} = %d, want >= 1", n)
	}
}

// TestFakeDaemonAppearingLaterOnEndpointIsRead: fakedocker cannot listen on
// a chosen path, so the daemon "starts" on the endpoint by a symlink to its
// socket appearing there; the receiver only ever dials the endpoint path.
func TestFakeDaemonAppearingLaterOnEndpointIsRead(t *testing.T) {
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "docker.sock")
	cfg := testConfig("unix://" + sock)
	host := newStatusHost()
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, host)
	next := host.waitStatus(t, 0, componentstatus.StatusRecoverableError)

	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "late-daemon", Image: "ld:1"})
	ts := d.WriteLines(id, fakedocker.Stdout, "hello")
	must(t, os.Symlink(d.SocketPath(), sock))
	got := sink.waitCount(t, id, 1)
	checkRecords(t, got, []want{{stream: "stdout", body: "hello", ts: ts[0]}})
	checkResource(t, got, id, "late-daemon", "ld:1")
	host.waitStatus(t, next, componentstatus.StatusOK)
}

// shortTempDir is a directory whose socket paths fit in sun_path.
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "dlr")
	must(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// ---------------------------------------------------------------------------
// 11. Shutdown

func TestFakeShutdownWithoutStartIsSafeAndIdempotent(t *testing.T) {
	r, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), testConfig("unix:///nonexistent/docker.sock"), &fakeSink{})
	must(t, err)
	must(t, r.Shutdown(context.Background()))
	must(t, r.Shutdown(context.Background()))
	// Start after Shutdown starts nothing.
	must(t, r.Start(context.Background(), componenttest.NewNopHost()))
	must(t, r.Shutdown(context.Background()))
}

func TestFakeShutdownIsIdempotentAndLeavesNoGoroutine(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	d := fakedocker.New(t)
	reqs := watchRequests(d)
	id := running(d, fakedocker.Container{Name: "busy", Image: "busy:1"})
	d.WriteLines(id, fakedocker.Stdout, "one")
	cfg := fakeCfg(d)
	cfg.RotationInterval = minRotationInterval
	cfg.ResyncInterval = 200 * time.Millisecond
	sink := &fakeSink{}
	_, r := startReceiver(t, cfg, sink, nil)
	sink.waitCount(t, id, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	began := time.Now()
	must(t, r.Shutdown(ctx))
	if took := time.Since(began); took > time.Second {
		t.Errorf("Shutdown took %v", took)
	}
	must(t, r.Shutdown(ctx))
	must(t, d.WaitLogStreams(ctx, 0))
	must(t, d.WaitEventStreams(ctx, 0))
	everything := func(fakedocker.Request) bool { return true }
	before := reqs.count(everything)
	must(t, r.Start(context.Background(), componenttest.NewNopHost())) // after Shutdown: a no-op
	must(t, r.Shutdown(ctx))
	d.WriteLines(id, fakedocker.Stdout, "two")
	d.Close()
	after := reqs.count(everything)
	if after != before {
		t.Errorf("%d requests after Shutdown", after-before)
	}
	if got := sink.of(id); len(got) != 1 {
		t.Errorf("records after Shutdown:\n%s", describe(got))
	}
	goleak.VerifyNone(t, ignore)
}

func TestFakeShutdownReturnsPromptlyWhileTheConsumerRefuses(t *testing.T) {
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "refused", Image: "r:1"})
	d.WriteLines(id, fakedocker.Stdout, "never accepted")
	refusals := make(chan struct{}, 100)
	sink := &fakeSink{}
	sink.Refuse = func() error {
		select {
		case refusals <- struct{}{}:
		default:
		}
		return errors.New("downstream is full")
	}
	_, r := startReceiver(t, fakeCfg(d), sink, nil)
	for range 3 { // the follower retries with backoff
		select {
		case <-refusals:
		case <-time.After(fakeWait):
			t.Fatal("the consumer was not retried")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	began := time.Now()
	must(t, r.Shutdown(ctx))
	if took := time.Since(began); took > time.Second {
		t.Errorf("Shutdown took %v while the consumer refused", took)
	}
}
