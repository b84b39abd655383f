package receiver

// Multiline settings through the whole receiver, against the fake daemon:
// the flush timeout, per-container rules, and the container labels that win
// over the configuration (valid, invalid, off).

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/stacktraces"
)

// mlJava is a Java trace that auto mode makes one record of.
var mlJava = stacktraces.All()[0]

// bodiesOf lists records' bodies.
func bodiesOf(recs []fakeRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Body
	}
	return out
}

// writeTrace writes an ordinary line, the Java trace, and another ordinary
// line on stdout, and returns the records auto mode makes of them.
func writeTrace(d *fakedocker.Daemon, id string) []string {
	d.WriteLines(id, fakedocker.Stdout, "before")
	d.WriteLines(id, fakedocker.Stdout, mlJava.Lines...)
	d.WriteLines(id, fakedocker.Stdout, "after")
	return []string{"before", mlJava.Text(), "after"}
}

// ungrouped is what a container without grouping delivers of writeTrace.
func ungrouped() []string {
	return append(append([]string{"before"}, mlJava.Lines...), "after")
}

// waitBodies waits until container id delivered len(want) records and
// requires exactly want.
func (s *fakeSink) waitBodies(t *testing.T, id string, want []string) {
	t.Helper()
	got := bodiesOf(s.waitCount(t, id, len(want)))
	if !slices.Equal(got, want) {
		t.Fatalf("records of %.12s:\n%q\nwant\n%q", id, got, want)
	}
}

// TestFakeMultilineFlushTimeout: a group that no line continues is emitted
// after flush_timeout while the container runs on quietly and its stream
// stays open, stamped with its first line's time; the lines after it are
// grouped anew.
func TestFakeMultilineFlushTimeout(t *testing.T) {
	d := fakedocker.New(t)
	cfg := fakeCfg(d)
	cfg.Multiline.LineStartPattern = `^start`
	cfg.Multiline.FlushTimeout = 200 * time.Millisecond
	sink := &fakeSink{}
	tt, _ := startReceiver(t, cfg, sink, nil)
	id := running(d, fakedocker.Container{Name: "quiet"})
	ts := d.WriteLines(id, fakedocker.Stdout, "start 1", "  at 1", "  at 2")
	got := sink.waitCount(t, id, 1)
	checkRecords(t, got, []want{{stream: "stdout", body: "start 1\n  at 1\n  at 2", ts: ts[0]}})
	ts2 := d.WriteLines(id, fakedocker.Stdout, "  at 3", "start 2")
	got = sink.waitCount(t, id, 3)
	checkRecords(t, got, []want{
		{stream: "stdout", body: "start 1\n  at 1\n  at 2", ts: ts[0]},
		{stream: "stdout", body: "  at 3", ts: ts2[0]},
		{stream: "stdout", body: "start 2", ts: ts2[1]},
	})
	// Counted when the stream ended for the flush, just after the record
	// was handed on.
	eventually(t, "two streams ended for a multiline flush", func() bool {
		return counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "multiline_flush") >= 2
	})
}

// TestFakeMultilineRulesPerContainer: rules choose per container, first
// match wins; a rule without pattern or mode turns grouping off; containers
// no rule matches get the top-level settings.
func TestFakeMultilineRulesPerContainer(t *testing.T) {
	d := fakedocker.New(t)
	cfg := fakeCfg(d)
	cfg.Multiline.Mode = "auto"
	cfg.Multiline.Rules = []MultilineRule{
		{Match: MatchConfig{Names: []string{"legacy-*"}}}, // off
		{Match: MatchConfig{Labels: []string{"team=batch"}}},
		{Match: MatchConfig{Images: []string{"shop/*"}}},
	}
	cfg.Multiline.Rules[2].LineStartPattern = `^\S`
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, nil)
	def := running(d, fakedocker.Container{Name: "web", Image: "nginx:1.27"})
	legacy := running(d, fakedocker.Container{Name: "legacy-1", Image: "shop/api:1"}) // the first rule wins
	batch := running(d, fakedocker.Container{Name: "batch-1", Labels: map[string]string{"team": "batch"}})
	shop := running(d, fakedocker.Container{Name: "api-1", Image: "shop/api:2"})

	sink.waitBodies(t, def, writeTrace(d, def))
	writeTrace(d, legacy)
	sink.waitBodies(t, legacy, ungrouped())
	writeTrace(d, batch)
	sink.waitBodies(t, batch, ungrouped())
	// ^\S: a line that does not start with white space starts a record;
	// the last is emitted by the flush timeout.
	d.WriteLines(shop, fakedocker.Stdout, "GET /a", "  took 3ms", "GET /b", "\tat x", "GET /c")
	sink.waitBodies(t, shop, []string{"GET /a\n  took 3ms", "GET /b\n\tat x", "GET /c"})
}

// TestFakeMultilineLabelOverridesConfig: a container's own pattern label
// wins over the rule that matches it; its neighbour keeps the top-level
// pattern. max_lines (and flush_timeout) stay those the configuration
// gives the container.
func TestFakeMultilineLabelOverridesConfig(t *testing.T) {
	d := fakedocker.New(t)
	cfg := fakeCfg(d)
	cfg.Multiline.LineStartPattern = `^start`
	cfg.Multiline.MaxLines = 3
	cfg.Multiline.Rules = []MultilineRule{{Match: MatchConfig{Names: []string{"own"}}}}
	cfg.Multiline.Rules[0].Mode = "auto"
	cfg.Multiline.Rules[0].MaxLines = 3
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, nil)
	own := running(d, fakedocker.Container{Name: "own", Labels: map[string]string{labelLineEnd: `;$`}})
	other := running(d, fakedocker.Container{Name: "other"})
	for _, id := range []string{own, other} {
		d.WriteLines(id, fakedocker.Stdout, "start a", "b;", "c", "d", "e", "f;")
	}
	// line_end_pattern ;$ from the label, at most 3 lines from the rule.
	sink.waitBodies(t, own, []string{"start a\nb;", "c\nd\ne", "f;"})
	// line_start_pattern ^start, at most 3 lines.
	sink.waitBodies(t, other, []string{"start a\nb;\nc", "d\ne\nf;"})
}

// TestFakeMultilineModeOffLabel: mode=off in a label turns the configured
// grouping off for that container alone.
func TestFakeMultilineModeOffLabel(t *testing.T) {
	d := fakedocker.New(t)
	cfg := fakeCfg(d)
	cfg.Multiline.Mode = "auto"
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, nil)
	off := running(d, fakedocker.Container{Name: "off", Labels: map[string]string{labelMode: "off"}})
	on := running(d, fakedocker.Container{Name: "on"})
	writeTrace(d, off)
	sink.waitBodies(t, off, ungrouped())
	sink.waitBodies(t, on, writeTrace(d, on))
}

// TestFakeMultilineInvalidLabel: a container whose label pattern does not
// compile is counted once and logged once, also across a restart of the
// container, and its lines pass through ungrouped; other containers are
// grouped as configured, and the receiver runs on.
func TestFakeMultilineInvalidLabel(t *testing.T) {
	d := fakedocker.New(t)
	cfg := fakeCfg(d)
	cfg.Multiline.Mode = "auto"
	core, logs := observer.New(zap.WarnLevel)
	sink := &fakeSink{}
	tt, _ := rstStartLogged(t, cfg, sink, componenttest.NewNopHost(), zap.New(core))
	bad := running(d, fakedocker.Container{Name: "bad", Labels: map[string]string{labelLineStart: `^(\d+`}})
	good := running(d, fakedocker.Container{Name: "good"})
	writeTrace(d, bad)
	sink.waitBodies(t, bad, ungrouped())
	sink.waitBodies(t, good, writeTrace(d, good))

	// The container's next run is read with a new follower: still counted once.
	d.Stop(bad)
	d.Start(bad)
	writeTrace(d, bad)
	sink.waitBodies(t, bad, append(ungrouped(), ungrouped()...))

	if n := counter(t, tt, "dockerlogsrotating_multiline_label_errors", "", ""); n != 1 {
		t.Errorf("multiline_label_errors = %d, want 1", n)
	}
	warned := logs.FilterMessageSnippet("invalid multiline labels").All()
	if len(warned) != 1 {
		t.Fatalf("%d warnings about the labels, want 1: %v", len(warned), logs.All())
	}
	f := warned[0].ContextMap()
	if f["container"] != "bad" || !strings.Contains(f["error"].(string), "line_start_pattern") {
		t.Errorf("warning fields %v", f)
	}
}
