package receiver

// Multiline records on the real Docker Engine: loggen -traces writes stack
// traces of six languages (internal/testing/stacktraces) interleaved with
// ordinary lines on stdout and stderr at once, and each test compares the
// records the receiver delivered, stream by stream and in order, with the
// plan loggen wrote: every trace one record with the trace's exact text,
// every ordinary line a record of its own.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/batch"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/stacktraces"
)

// mlLineSize is the payload of loggen's ordinary lines in these tests.
const mlLineSize = 40

// mlCase is one traces container and the receiver reading it.
type mlCase struct {
	e    *dockertest.Engine
	c    *dockertest.Container
	src  string
	opts stacktraces.Options
}

// mlRun starts a loggen -traces container labelled for this test alone,
// with args added, and returns it; cfg (when not nil) is set to select it.
func mlRun(t *testing.T, cfg *Config, o stacktraces.Options, args ...string) *mlCase {
	t.Helper()
	e := dockertest.Require(t)
	key, val := rstLabel(e, t)
	if cfg != nil {
		cfg.Include.Labels = []string{key + "=" + val}
	}
	const src = "ml" // each test's receiver reads its own container only
	a := []string{"-src", src, "-traces", strconv.Itoa(o.Rounds), "-streams", "both", "-size", strconv.Itoa(mlLineSize)}
	if o.Deep > 0 {
		a = append(a, "-deep", strconv.Itoa(o.Deep))
	}
	c := e.Run(t, dockertest.RunOptions{
		Name: "ml", Labels: map[string]string{key: val}, Args: append(a, args...),
		LogOpts: map[string]string{"max-size": "50m"},
	})
	o.LineSize = mlLineSize
	return &mlCase{e: e, c: c, src: src, opts: o}
}

// plan is what the container writes on stream, record by record.
func (m *mlCase) plan(stream string) []stacktraces.Record {
	return stacktraces.Plan(m.src, stream, m.opts)
}

// want is the bodies the receiver should deliver on stream: the plan's
// records, each passed through split (nil: as they are).
func (m *mlCase) want(stream string, split func(stacktraces.Record) []string) []string {
	var out []string
	for _, r := range m.plan(stream) {
		if split != nil {
			out = append(out, split(r)...)
		} else {
			out = append(out, r.Text())
		}
	}
	return out
}

// total is the number of records both streams should deliver.
func (m *mlCase) total(split func(stacktraces.Record) []string) int {
	return len(m.want("stdout", split)) + len(m.want("stderr", split))
}

// mlStreams splits delivered records by stream, in delivery order.
func mlStreams(recs []logsink.Record) map[string][]logsink.Record {
	out := map[string][]logsink.Record{}
	for _, r := range recs {
		out[r.Stream] = append(out[r.Stream], r)
	}
	return out
}

func mlBodies(recs []logsink.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Body
	}
	return out
}

// mlCompare requires got to be want, and says where they part.
func mlCompare(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Fatalf("%s: %d records, want %d; the first missing is %d:\n%s", what, len(got), len(want), i, want[i])
		case i >= len(want):
			t.Fatalf("%s: %d records, want %d; the first extra is %d:\n%s", what, len(got), len(want), i, got[i])
		case got[i] != want[i]:
			t.Fatalf("%s: record %d of %d (want %d) is\n%s\nwant\n%s", what, i, len(got), len(want), got[i], want[i])
		}
	}
}

// mlTraceCounts counts the plan's traces by language, for the logs.
func mlTraceCounts(plan []stacktraces.Record) string {
	n := map[string]int{}
	for _, r := range plan {
		if r.Trace != "" {
			lang, _, _ := strings.Cut(r.Trace, "-")
			n[lang]++
		}
	}
	return fmt.Sprint(n)
}

// mlConfig groups in auto mode. The flush timeout is measured from when
// the receiver read a group's last line, so a reader stalled for longer
// mid-trace (seen under -race on a loaded 2-core machine with the default
// 1 s) emits the trace in two parts: the tests allow 3 s, and the tests
// that need no timeout let their container exit instead.
func mlConfig(e *dockertest.Engine) *Config {
	cfg := testConfig(e.Endpoint())
	cfg.Multiline.Mode = "auto"
	cfg.Multiline.FlushTimeout = 3 * time.Second
	return cfg
}

// mlWait waits until n records arrived.
func mlWait(t *testing.T, sink *logsink.Sink, n int, d time.Duration) []logsink.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := sink.WaitFor(ctx, n); err != nil {
		recs := sink.Records()
		t.Fatalf("%d of %d records arrived: %v; the last: %q", len(recs), n, err, mlBodies(recs[max(len(recs)-3, 0):]))
	}
	return sink.Records()
}

// mlDockerTimestamps returns the Docker timestamps of a container's lines
// per stream, in order (docker logs -t).
func mlDockerTimestamps(t *testing.T, c *dockertest.Container) map[string][]time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", "logs", "-t", c.ID)
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker logs -t: %v: %s", err, e.String())
	}
	out := map[string][]time.Time{}
	for stream, b := range map[string][]byte{"stdout": o.Bytes(), "stderr": e.Bytes()} {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			stamp, _, _ := strings.Cut(sc.Text(), " ")
			ts, err := time.Parse(time.RFC3339Nano, stamp)
			if err != nil {
				t.Fatalf("docker logs -t %s line %q: %v", stream, sc.Text(), err)
			}
			out[stream] = append(out[stream], ts)
		}
	}
	return out
}

// TestMultilineIntegrationSixLanguages: every trace of the six languages
// arrives as exactly one record with the trace's text, written on stdout
// and stderr at once, stamped with its first line's Docker timestamp; the
// ordinary lines between them arrive as they are. The container keeps
// running, so its last traces are emitted by the flush timeout (3 s).
func TestMultilineIntegrationSixLanguages(t *testing.T) {
	e := dockertest.Require(t)
	cfg := mlConfig(e)
	m := mlRun(t, cfg, stacktraces.Options{Rounds: 3}, "-then", "sleep")
	sink := &logsink.Sink{}
	tt := run(t, cfg, sink)
	recs := mlWait(t, sink, m.total(nil), 2*time.Minute)
	byStream := mlStreams(recs)
	stamps := mlDockerTimestamps(t, m.c)
	for _, stream := range []string{"stdout", "stderr"} {
		got := byStream[stream]
		mlCompare(t, stream, mlBodies(got), m.want(stream, nil))
		first := 0 // index of the record's first line in the stream
		for i, r := range m.plan(stream) {
			if want := stamps[stream][first]; r.Trace != "" && got[i].Timestamp != want.UnixNano() {
				t.Errorf("%s record %d (%s): timestamp %v, want its first line's %v", stream, i, r.Trace, time.Unix(0, got[i].Timestamp).UTC(), want)
			}
			first += len(r.Lines)
		}
		t.Logf("%s: %d records (%d lines): traces %s", stream, len(got), first, mlTraceCounts(m.plan(stream)))
	}
	t.Logf("records=%d multiline_flush=%d", len(recs), counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "multiline_flush"))
}

// TestMultilineIntegrationRotationEvery200ms: streams are reopened every
// 200 ms while traces are written, so most traces are cut by a reopen; each
// still arrives once and whole.
func TestMultilineIntegrationRotationEvery200ms(t *testing.T) {
	e := dockertest.Require(t)
	cfg := mlConfig(e)
	cfg.RotationInterval = 200 * time.Millisecond
	// Each reopen replays the held groups, and under -race on a loaded
	// machine the reader fell 3 s behind inside a trace once (a flush
	// before its rest was read again): no flush timeout here, the exit
	// flushes the last traces.
	cfg.Multiline.FlushTimeout = time.Minute
	m := mlRun(t, cfg, stacktraces.Options{Rounds: 8}, "-rate", "400", "-then", "exit")
	sink := &logsink.Sink{}
	tt := run(t, cfg, sink)
	recs := mlWait(t, sink, m.total(nil), 2*time.Minute)
	byStream := mlStreams(recs)
	for _, stream := range []string{"stdout", "stderr"} {
		mlCompare(t, stream, mlBodies(byStream[stream]), m.want(stream, nil))
	}
	rotations := counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "rotation")
	lines := len(stacktraces.Lines(m.plan("stdout"))) + len(stacktraces.Lines(m.plan("stderr")))
	t.Logf("records=%d (stdout %d, stderr %d) from %d lines; rotations=%d multiline_flush=%d duplicates_skipped=%d",
		len(recs), len(byStream["stdout"]), len(byStream["stderr"]), lines, rotations,
		counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "multiline_flush"),
		counter(t, tt, "dockerlogsrotating_duplicates_skipped", "", ""))
	if rotations < 10 {
		t.Errorf("only %d rotations while the traces were written", rotations)
	}
}

// TestMultilineIntegrationFlushOnExit: the container exits right after a
// trace on each stream; with a flush timeout of 10 minutes, those traces
// arrive only because the container's exit flushes them.
func TestMultilineIntegrationFlushOnExit(t *testing.T) {
	e := dockertest.Require(t)
	cfg := mlConfig(e)
	cfg.Multiline.FlushTimeout = 10 * time.Minute
	m := mlRun(t, cfg, stacktraces.Options{Rounds: 1}, "-then", "exit")
	sink := &logsink.Sink{}
	run(t, cfg, sink)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := m.c.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	exited := time.Now()
	recs := mlWait(t, sink, m.total(nil), time.Minute)
	after := time.Since(exited)
	byStream := mlStreams(recs)
	for _, stream := range []string{"stdout", "stderr"} {
		plan := m.plan(stream)
		mlCompare(t, stream, mlBodies(byStream[stream]), m.want(stream, nil))
		t.Logf("%s: %d records, the last (%s) held until the exit", stream, len(byStream[stream]), plan[len(plan)-1].Trace)
	}
	t.Logf("records=%d; the last arrived %v after docker wait returned (flush_timeout %v)", len(recs), after.Round(time.Millisecond), cfg.Multiline.FlushTimeout)
	if after > 30*time.Second {
		t.Errorf("the last traces came %v after the exit", after)
	}
}

// mlSplit splits a record's lines into records of at most n lines.
func mlSplit(n int) func(stacktraces.Record) []string {
	return func(r stacktraces.Record) []string {
		var out []string
		for ls := r.Lines; len(ls) > 0; {
			k := min(n, len(ls))
			out = append(out, strings.Join(ls[:k], "\n"))
			ls = ls[k:]
		}
		return out
	}
}

// TestMultilineIntegrationMaxLines: a Java trace of 1,025 lines (a
// StackOverflowError's 1,024 frames) is emitted in records of the default
// max_lines, 1,000 and 25 lines, with no line lost or repeated.
func TestMultilineIntegrationMaxLines(t *testing.T) {
	e := dockertest.Require(t)
	cfg := mlConfig(e)
	cfg.Multiline.FlushTimeout = time.Minute // the exit flushes the last records
	m := mlRun(t, cfg, stacktraces.Options{Rounds: 1, Deep: 1024}, "-then", "exit")
	sink := &logsink.Sink{}
	run(t, cfg, sink)
	split := mlSplit(1000) // the default max_lines
	recs := mlWait(t, sink, m.total(split), 2*time.Minute)
	byStream := mlStreams(recs)
	for _, stream := range []string{"stdout", "stderr"} {
		got := byStream[stream]
		mlCompare(t, stream, mlBodies(got), m.want(stream, split))
		last := got[len(got)-2:]
		t.Logf("%s: %d records; the deep trace as %d + %d lines", stream, len(got),
			strings.Count(last[0].Body, "\n")+1, strings.Count(last[1].Body, "\n")+1)
	}
	t.Logf("records=%d", len(recs))
}

// TestMultilineIntegrationMaxLogSize: with max_log_size 1 KiB, each record
// longer than that (the merged trace, not any one of its lines) is cut to
// its first KiB and flagged docker.log.truncated; shorter ones are whole
// and not flagged.
func TestMultilineIntegrationMaxLogSize(t *testing.T) {
	const maxSize = 1024
	e := dockertest.Require(t)
	cfg := mlConfig(e)
	cfg.MaxLogSize = maxSize
	cfg.Multiline.FlushTimeout = time.Minute // the exit flushes the last records
	m := mlRun(t, cfg, stacktraces.Options{Rounds: 1, Deep: 100}, "-then", "exit")
	sink := &logsink.Sink{}
	tt := run(t, cfg, sink)
	recs := mlWait(t, sink, m.total(nil), 2*time.Minute)
	byStream := mlStreams(recs)
	cut := 0
	for _, stream := range []string{"stdout", "stderr"} {
		got, plan := byStream[stream], m.plan(stream)
		if len(got) != len(plan) {
			t.Fatalf("%s: %d records, want %d", stream, len(got), len(plan))
		}
		for i, r := range plan {
			text, g := r.Text(), got[i]
			flagged := g.Attrs[batch.AttrTruncated] == true
			if len(text) <= maxSize {
				if g.Body != text || flagged {
					t.Errorf("%s record %d (%s, %d bytes): body %q flagged %v", stream, i, r.Trace, len(text), g.Body, flagged)
				}
				continue
			}
			cut++
			// Cut at maxSize; a "\n" that would be the last byte is left out.
			if !strings.HasPrefix(text, g.Body) || len(g.Body) < maxSize-1 || len(g.Body) > maxSize || !flagged {
				t.Errorf("%s record %d (%s, %d bytes): %d bytes, a prefix %v, flagged %v", stream, i, r.Trace, len(text), len(g.Body), strings.HasPrefix(text, g.Body), flagged)
			}
		}
	}
	truncated := counter(t, tt, "dockerlogsrotating_lines_truncated", "", "")
	t.Logf("records=%d, %d of them over %d bytes and truncated; lines_truncated=%d", len(recs), cut, maxSize, truncated)
	if cut == 0 || truncated != int64(cut) {
		t.Errorf("%d records cut, lines_truncated %d", cut, truncated)
	}
}

// Environment of TestRestartHelperProcess for multiline.
const rstEnvMultiline = "DLR_RESTART_MULTILINE"

// mlPausePoint finds where to pause loggen: after L lines of each stream,
// inside a stdout trace of which at least two lines are written and one is
// not, when stderr's line L is an ordinary line. That line, read after the
// trace's first lines (the streams alternate line by line), proves that
// the receiver read them. It returns L and the index of the stdout trace
// in the plan.
func mlPausePoint(t *testing.T, out, errs []stacktraces.Record) (pauseAfter, trace int) {
	t.Helper()
	ordinary := map[int]bool{} // stderr line indexes of ordinary lines
	i := 0
	for _, r := range errs {
		if r.Trace == "" {
			ordinary[i] = true
		}
		i += len(r.Lines)
	}
	start := 0
	for k, r := range out {
		n := len(r.Lines)
		if r.Trace != "" && k > 8 { // past the first round's start
			for l := start + 2; l < start+n; l++ {
				if ordinary[l-1] {
					return l, k
				}
			}
		}
		start += n
	}
	t.Fatal("no pause point in the plan")
	return 0, 0
}

// mlAcked reads the helper process's output file: "name\tstream\tbody"
// lines, the body quoted.
func mlAcked(t *testing.T, path string, size int64) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) < size {
		t.Fatalf("output file has %d bytes, %d acknowledged", len(b), size)
	}
	out := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSuffix(string(b[:size]), "\n"), "\n") {
		if l == "" {
			continue
		}
		f := strings.SplitN(l, "\t", 3)
		if len(f) != 3 {
			t.Fatalf("bad output line %q", l)
		}
		body, err := strconv.Unquote(f[2])
		if err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		out[f[1]] = append(out[f[1]], body)
	}
	return out
}

// TestMultilineIntegrationRestartMidTrace: the collector (a helper process
// with file storage) gets SIGTERM while loggen is paused in the middle of
// a stdout trace, and a new one starts on the same storage before loggen
// writes the rest: the trace arrives once and whole from the second, the
// first emitted none of it, and no record comes twice.
func TestMultilineIntegrationRestartMidTrace(t *testing.T) {
	e := dockertest.Require(t)
	key, val := rstLabel(e, t)
	probe := &mlCase{src: "ml", opts: stacktraces.Options{Rounds: 2, LineSize: mlLineSize}}
	pauseAfter, k := mlPausePoint(t, probe.plan("stdout"), probe.plan("stderr"))
	m := mlRun(t, nil, probe.opts, "-rate", "400", "-pause-after", strconv.Itoa(pauseAfter), "-then", "exit")
	outPlan, errPlan := m.plan("stdout"), m.plan("stderr")
	marker := stacktraces.Lines(errPlan)[pauseAfter-1]

	store := t.TempDir()
	out := filepath.Join(t.TempDir(), "acked.log")
	env := []string{rstEnvEndpoint + "=" + e.Endpoint(), rstEnvLabel + "=" + key + "=" + val, rstEnvStore + "=" + store, rstEnvOut + "=" + out, rstEnvMultiline + "=auto"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Child 1 reads until the marker, then gets SIGTERM.
	first := rstStartChild(t, env...)
	for seen := false; !seen; {
		select {
		case <-first.notify:
			seen = slices.Contains(mlAcked(t, out, first.acked.Load())["stderr"], marker)
		case <-first.eof:
			t.Fatalf("child 1 exited early:\n%s", first.output)
		case <-ctx.Done():
			t.Fatalf("child 1 did not deliver the marker %q:\n%s", marker, first.output)
		}
	}
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-first.eof
	if err := first.cmd.Wait(); err != nil {
		t.Fatalf("child 1 did not stop cleanly on SIGTERM: %v\n%s", err, first.output)
	}
	byFirst := mlAcked(t, out, first.acked.Load())
	// Child 1 delivered exactly what precedes the trace on stdout, and up to
	// the marker on stderr: nothing of the trace.
	var wantOut, wantErr []string
	for _, r := range outPlan[:k] {
		wantOut = append(wantOut, r.Text())
	}
	for _, r := range errPlan {
		wantErr = append(wantErr, r.Text())
		if r.Text() == marker {
			break
		}
	}
	mlCompare(t, "child 1 stdout", byFirst["stdout"], wantOut)
	mlCompare(t, "child 1 stderr", byFirst["stderr"], wantErr)

	// Child 2 starts while the trace is still unfinished; then loggen goes on.
	second := rstStartChild(t, env...)
	if _, err := e.Docker(ctx, "kill", "--signal", "USR1", m.c.ID); err != nil {
		t.Fatal(err)
	}
	total := m.total(nil)
	for n := 0; n < total; {
		select {
		case <-second.notify:
			got := mlAcked(t, out, second.acked.Load())
			n = len(got["stdout"]) + len(got["stderr"])
		case <-second.eof:
			t.Fatalf("child 2 exited early:\n%s", second.output)
		case <-ctx.Done():
			t.Fatalf("child 2: not every record arrived:\n%s", second.output)
		}
	}
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-second.eof
	if err := second.cmd.Wait(); err != nil {
		t.Fatalf("child 2 did not stop cleanly on SIGTERM: %v\n%s", err, second.output)
	}
	all := mlAcked(t, out, second.acked.Load())
	mlCompare(t, "stdout", all["stdout"], m.want("stdout", nil))
	mlCompare(t, "stderr", all["stderr"], m.want("stderr", nil))
	t.Logf("records=%d: child 1 %d (stdout %d, stderr %d) before SIGTERM, paused after %d lines per stream inside stdout trace %s (%d lines); child 2 %d",
		total, len(byFirst["stdout"])+len(byFirst["stderr"]), len(byFirst["stdout"]), len(byFirst["stderr"]), pauseAfter, outPlan[k].Trace, len(outPlan[k].Lines),
		total-len(byFirst["stdout"])-len(byFirst["stderr"]))
}
