package receiver

// Collector restarts against the real Docker Engine: positions saved in a
// storage extension (internal/testing/storetest, one file per key, fsynced)
// let a new receiver resume where the previous one stopped, after a clean
// shutdown and after SIGKILL of the whole process.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	otelreceiver "go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/checkpoint"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/storetest"
)

// rstStorageID names the storage extension in these tests' hosts.
var rstStorageID = component.MustNewID("file_storage")

// rstReceiverID is the receiver's ID. A collector keeps its receiver's ID
// across restarts, and the storage client is chosen by it, so every
// receiver of these tests has the same one (receivertest's settings carry a
// random name).
var rstReceiverID = component.NewID(metadata.Type)

// rstHost is a host offering the file storage extension on dir.
func rstHost(dir string) component.Host {
	return storetest.Host(map[component.ID]component.Component{rstStorageID: storetest.NewFileExtension(dir)})
}

// rstStart starts a receiver with the fixed ID rstReceiverID, delivering to
// next; it is shut down when the test ends unless the test did it already.
func rstStart(t *testing.T, cfg *Config, next consumer.Logs, host component.Host) (*componenttest.Telemetry, otelreceiver.Logs) {
	t.Helper()
	return rstStartLogged(t, cfg, next, host, nil)
}

// rstStartLogged is rstStart with the receiver logging to logger (unless
// DLR_TEST_DEBUG asks for the test log).
func rstStartLogged(t *testing.T, cfg *Config, next consumer.Logs, host component.Host, logger *zap.Logger) (*componenttest.Telemetry, otelreceiver.Logs) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tt := componenttest.NewTelemetry()
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = rstReceiverID
	set.TelemetrySettings = tt.NewTelemetrySettings()
	set.BuildInfo.Version = "test"
	if logger != nil {
		set.Logger = logger
	}
	if os.Getenv("DLR_TEST_DEBUG") != "" {
		set.Logger = zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel))
	}
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		_ = tt.Shutdown(ctx)
	})
	return tt, r
}

// rstLabel returns a label selecting only the containers of this test.
func rstLabel(e *dockertest.Engine, t *testing.T) (key, value string) {
	return "dockerlogsrotating.test.case", strings.ReplaceAll(t.Name(), "/", "_") + "-" + e.RunID()
}

// rstTee passes every batch to one receiver's own sink and, once that one
// accepted it, to a sink shared by all receivers of the test, whose Checker
// sees the union of what they delivered.
type rstTee struct{ own, all *logsink.Sink }

func (s rstTee) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s rstTee) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if err := s.own.ConsumeLogs(ctx, ld); err != nil {
		return err
	}
	return s.all.ConsumeLogs(ctx, ld)
}

// rstProgress follows a container's log with the docker CLI (docker logs
// --follow), independently of the receiver, and tells how far the
// container has written: the highest seq seen per stream.
type rstProgress struct {
	mu      sync.Mutex
	max     map[string]int
	changed chan struct{}
}

// rstFollow starts following c until the test ends.
func rstFollow(t *testing.T, c *dockertest.Container) *rstProgress {
	p := &rstProgress{max: map[string]int{}, changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Follow(ctx, func(stream, line string) {
			l, err := seqcheck.Parse(line)
			if err != nil {
				return
			}
			p.mu.Lock()
			if l.Seq > p.max[stream] {
				p.max[stream] = l.Seq
				close(p.changed)
				p.changed = make(chan struct{})
			}
			p.mu.Unlock()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

// seq returns the highest seq written on stream so far (a lower bound: the
// CLI reads the log a little after Docker wrote it).
func (p *rstProgress) seq(stream string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max[stream]
}

// waitSeq blocks until the container wrote seq on stream.
func (p *rstProgress) waitSeq(ctx context.Context, stream string, seq int) error {
	for {
		p.mu.Lock()
		got, ch := p.max[stream], p.changed
		p.mu.Unlock()
		if got >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("container wrote %s up to seq %d, waiting for %d: %w", stream, got, seq, ctx.Err())
		}
	}
}

// rstSeqRange returns the lowest and highest seq of a stream's records.
func rstSeqRange(recs []logsink.Record, stream string) (lo, hi, n int) {
	for _, r := range recs {
		if r.Stream != stream {
			continue
		}
		l, err := seqcheck.Parse(r.Body)
		if err != nil {
			continue
		}
		if n == 0 || l.Seq < lo {
			lo = l.Seq
		}
		hi = max(hi, l.Seq)
		n++
	}
	return lo, hi, n
}

// rstTotals sums the report over every stream.
func rstTotals(rep seqcheck.Report) (missing, dups, corrupt int) {
	for _, s := range rep.Streams {
		missing += s.Missing
		dups += s.Duplicates
		corrupt += s.Corrupt + s.Misrouted + s.Unexpected
	}
	return missing, dups, corrupt
}

// TestRestartCleanShutdownResumesFromTheSavedPosition stops a receiver
// while its container keeps writing, then starts a new receiver on the same
// storage with start_at=end: the saved position wins over start_at, and the
// two receivers together deliver every line exactly once, including the
// lines written while neither ran.
func TestRestartCleanShutdownResumesFromTheSavedPosition(t *testing.T) {
	const perStream = 3000 // 6,000 lines in 20 s
	e := dockertest.Require(t)
	key, val := rstLabel(e, t)
	c := e.Run(t, dockertest.RunOptions{
		Name: "restart", Labels: map[string]string{key: val},
		Args:    []string{"-n", strconv.Itoa(perStream), "-streams", "both", "-rate", "300", "-then", "sleep"},
		LogOpts: map[string]string{"max-size": "500m"},
	})
	progress := rstFollow(t, c)
	all := &logsink.Sink{}
	all.Checker.Expect(c.Name, "stdout", perStream)
	all.Checker.Expect(c.Name, "stderr", perStream)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	cfg := testConfig(e.Endpoint())
	cfg.StartAt = StartAtBeginning
	cfg.RotationInterval = time.Second
	cfg.Include.Labels = []string{key + "=" + val}
	storage := rstStorageID
	cfg.Storage = &storage

	// Receiver A reads about a third, then shuts down while lines keep coming.
	sinkA := &logsink.Sink{}
	ttA, a := rstStart(t, cfg, rstTee{sinkA, all}, rstHost(dir))
	if err := sinkA.WaitFor(ctx, 2000); err != nil {
		t.Fatalf("receiver A: %v", err)
	}
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	err := a.Shutdown(sctx)
	scancel()
	if err != nil {
		t.Fatal(err)
	}
	recsA := sinkA.Records()
	_, aOut, _ := rstSeqRange(recsA, "stdout")
	_, aErr, _ := rstSeqRange(recsA, "stderr")
	if aOut >= perStream || aErr >= perStream {
		t.Fatalf("receiver A read up to stdout %d / stderr %d before it stopped: nothing left for B", aOut, aErr)
	}
	rotA := counter(t, ttA, "dockerlogsrotating_stream_rotations", "reason", "rotation")

	// The position A saved, read back through a fresh extension on the dir.
	saved := rstLoadPosition(t, dir, c.ID)
	t.Logf("receiver A: %d lines (stdout up to %d, stderr up to %d), %d rotations; saved position %+v",
		len(recsA), aOut, aErr, rotA, saved)

	// Let the container write on while no receiver runs, so that start_at
	// end would visibly skip lines.
	if err := progress.waitSeq(ctx, "stdout", aOut+60); err != nil {
		t.Fatal(err)
	}
	writtenBeforeB := progress.seq("stdout")

	// Receiver B: same storage, a new sink, start_at end.
	cfgB := *cfg
	cfgB.StartAt = StartAtEnd
	sinkB := &logsink.Sink{}
	ttB, _ := rstStart(t, &cfgB, rstTee{sinkB, all}, rstHost(dir))
	if err := all.Checker.Wait(ctx); err != nil {
		t.Fatalf("not every line arrived: %v", err)
	}
	// Two more rotations after the last line: a late duplicate shows up.
	rotB := counter(t, ttB, "dockerlogsrotating_stream_rotations", "reason", "rotation")
	if err := waitFor(ctx, func() bool {
		return counter(t, ttB, "dockerlogsrotating_stream_rotations", "reason", "rotation") >= rotB+2
	}); err != nil {
		t.Fatalf("receiver B did not rotate: %v", err)
	}

	recsB := sinkB.Records()
	bLo, bHi, _ := rstSeqRange(recsB, "stdout")
	historyByB := 0 // stdout lines B read that were written before it started
	for _, r := range recsB {
		if l, err := seqcheck.Parse(r.Body); err == nil && r.Stream == "stdout" && l.Seq <= writtenBeforeB {
			historyByB++
		}
	}
	rep := all.Checker.Report()
	missing, dups, corrupt := rstTotals(rep)
	t.Logf("lines=%d: receiver A %d + receiver B %d; B resumed stdout at seq %d (A stopped at %d, %d stdout lines written while none ran were read by B; B read up to %d); lost=%d duplicates=%d corrupt=%d; B: duplicates_skipped=%d gaps=%d",
		2*perStream, len(recsA), len(recsB), bLo, aOut, historyByB, bHi, missing, dups, corrupt,
		counter(t, ttB, "dockerlogsrotating_duplicates_skipped", "", ""), counter(t, ttB, "dockerlogsrotating_cursor_gaps", "", ""))
	if err := rep.Err(); err != nil {
		t.Fatalf("A and B together did not deliver every line exactly once: %v\n%s", err, rep)
	}
	if historyByB < 60-1 {
		t.Errorf("B read only %d stdout lines written before it started; with start_at=end winning over the saved position it would read none", historyByB)
	}
	if bLo != aOut+1 {
		t.Errorf("B's first stdout line is seq %d, want %d (right after A's last)", bLo, aOut+1)
	}
}

// rstLoadPosition reads a container's saved position from the storage dir.
func rstLoadPosition(t *testing.T, dir, id string) any {
	t.Helper()
	return rstLoadEntry(t, dir, id).Position
}

// rstLoadEntry reads a container's saved entry from the storage dir; it
// fails the test when there is none.
func rstLoadEntry(t *testing.T, dir, id string) checkpoint.Entry {
	t.Helper()
	ctx := context.Background()
	cl, err := storetest.NewFileExtension(dir).GetClient(ctx, component.KindReceiver, rstReceiverID, "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := checkpoint.Open(ctx, cl, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	e, ok, err := st.Load(ctx, id)
	if err != nil || !ok {
		t.Fatalf("no position saved for the container (found %v, error %v)", ok, err)
	}
	return e
}

// Environment of TestRestartHelperProcess.
const (
	rstEnvHelper   = "DLR_RESTART_HELPER"
	rstEnvEndpoint = "DLR_RESTART_ENDPOINT"
	rstEnvLabel    = "DLR_RESTART_LABEL"
	rstEnvStore    = "DLR_RESTART_STORE"
	rstEnvOut      = "DLR_RESTART_OUT"
)

// TestRestartHelperProcess is not a test on its own: it returns at once
// unless TestRestartKilledProcessLosesNothing runs it in a child process.
// There it runs a receiver whose consumer appends "name\tstream\tbody" per
// record to a file and fsyncs it, then reports the file's size on fd 3,
// before acknowledging the batch (returning nil); it stops on SIGTERM.
// With DLR_RESTART_MULTILINE=auto the receiver groups lines in auto mode
// with a 10 minute flush timeout (a test pauses its container mid-trace),
// and bodies are written quoted (strconv.Quote), since they hold "\n".
func TestRestartHelperProcess(t *testing.T) {
	if os.Getenv(rstEnvHelper) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	f, err := os.OpenFile(os.Getenv(rstEnvOut), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ack := os.NewFile(3, "ack")
	defer ack.Close()

	cfg := testConfig(os.Getenv(rstEnvEndpoint))
	cfg.StartAt = StartAtBeginning
	cfg.RotationInterval = time.Second
	cfg.Include.Labels = []string{os.Getenv(rstEnvLabel)}
	storage := rstStorageID
	cfg.Storage = &storage
	fc := &rstFileConsumer{f: f, ack: ack}
	if mode := os.Getenv(rstEnvMultiline); mode != "" {
		cfg.Multiline.Mode = mode
		cfg.Multiline.FlushTimeout = 10 * time.Minute
		fc.quote = true
	}
	_, r := rstStart(t, cfg, fc, rstHost(os.Getenv(rstEnvStore)))
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
}

// rstFileConsumer is the helper process's consumer.
type rstFileConsumer struct {
	mu    sync.Mutex
	f     *os.File
	ack   *os.File
	quote bool // write bodies with strconv.Quote
	buf   bytes.Buffer
}

func (c *rstFileConsumer) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (c *rstFileConsumer) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Reset()
	for _, rl := range ld.ResourceLogs().All() {
		name := ""
		if v, ok := rl.Resource().Attributes().Get("container.name"); ok {
			name = v.Str()
		}
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				stream := ""
				if v, ok := lr.Attributes().Get("log.iostream"); ok {
					stream = v.Str()
				}
				body := lr.Body().AsString()
				if c.quote {
					body = strconv.Quote(body)
				}
				fmt.Fprintf(&c.buf, "%s\t%s\t%s\n", name, stream, body)
			}
		}
	}
	if _, err := c.f.Write(c.buf.Bytes()); err != nil {
		return err
	}
	if err := c.f.Sync(); err != nil {
		return err
	}
	st, err := c.f.Stat()
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(c.ack, "%d\n", st.Size()); err != nil {
		return err
	}
	return nil
}

// rstChild is a running helper process.
type rstChild struct {
	cmd    *exec.Cmd
	output *rstLockedBuffer
	acked  atomic.Int64  // file size after the last acknowledged batch
	notify chan struct{} // signalled after every acknowledgment
	eof    chan struct{} // closed when the ack pipe ends (the child exited)
}

type rstLockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *rstLockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *rstLockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func rstStartChild(t *testing.T, env ...string) *rstChild {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ch := &rstChild{output: &rstLockedBuffer{}, notify: make(chan struct{}, 1), eof: make(chan struct{})}
	ch.cmd = exec.Command(os.Args[0], "-test.run=^TestRestartHelperProcess$", "-test.v")
	ch.cmd.Env = append(os.Environ(), append([]string{rstEnvHelper + "=1"}, env...)...)
	ch.cmd.ExtraFiles = []*os.File{pw}
	ch.cmd.Stdout, ch.cmd.Stderr = ch.output, ch.output
	if err := ch.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() {
		defer close(ch.eof)
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			n, err := strconv.ParseInt(sc.Text(), 10, 64)
			if err != nil {
				continue
			}
			ch.acked.Store(n)
			select {
			case ch.notify <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		if ch.cmd.ProcessState == nil {
			_ = ch.cmd.Process.Kill()
			_ = ch.cmd.Wait()
		}
		<-ch.eof
	})
	return ch
}

// rstAckReader feeds the acknowledged part of the output file to a Checker.
type rstAckReader struct {
	path    string
	key     string // container name
	checker *seqcheck.Checker
	off     int64
	lines   int
	bad     int // lines not of the form name\tstream\tbody, or of another container
}

// readTo reads the file up to size (a batch boundary).
func (r *rstAckReader) readTo(t *testing.T, size int64) {
	t.Helper()
	if size <= r.off {
		return
	}
	f, err := os.Open(r.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, size-r.off)
	if _, err := f.ReadAt(b, r.off); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("acknowledged size %d is not at the end of a line", size)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		name, rest, ok1 := strings.Cut(line, "\t")
		stream, body, ok2 := strings.Cut(rest, "\t")
		if !ok1 || !ok2 || name != r.key {
			r.bad++
			continue
		}
		r.checker.Add(name, stream, body)
		r.lines++
	}
	r.off = size
}

// TestRestartKilledProcessLosesNothing runs the receiver in a child process,
// kills it with SIGKILL in the middle of the log, and starts another on the
// same storage: no acknowledged line is lost; the lines acknowledged after
// the last position write come again (counted, and bounded).
func TestRestartKilledProcessLosesNothing(t *testing.T) {
	const perStream = 3000
	e := dockertest.Require(t)
	key, val := rstLabel(e, t)
	c := e.Run(t, dockertest.RunOptions{
		Name: "killed", Labels: map[string]string{key: val},
		Args:    []string{"-n", strconv.Itoa(perStream), "-streams", "both", "-rate", "300", "-then", "sleep"},
		LogOpts: map[string]string{"max-size": "500m"},
	})
	store := t.TempDir()
	out := filepath.Join(t.TempDir(), "acked.log")
	env := []string{rstEnvEndpoint + "=" + e.Endpoint(), rstEnvLabel + "=" + key + "=" + val, rstEnvStore + "=" + store, rstEnvOut + "=" + out}
	checker := &seqcheck.Checker{}
	checker.Expect(c.Name, "stdout", perStream)
	checker.Expect(c.Name, "stderr", perStream)
	rd := &rstAckReader{path: out, key: c.Name, checker: checker}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Child 1: SIGKILL once 2,000 lines are acknowledged.
	first := rstStartChild(t, env...)
	for rd.lines < 2000 {
		select {
		case <-first.notify:
			rd.readTo(t, first.acked.Load())
		case <-first.eof:
			t.Fatalf("child 1 exited early:\n%s", first.output)
		case <-ctx.Done():
			t.Fatalf("child 1 acknowledged only %d lines:\n%s", rd.lines, first.output)
		}
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.eof
	_ = first.cmd.Wait()
	if ws, ok := first.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child 1 did not die of SIGKILL: %v\n%s", first.cmd.ProcessState, first.output)
	}
	rd.readTo(t, first.acked.Load())
	linesFirst := rd.lines
	// Bytes the child wrote for a batch it never acknowledged (killed
	// between its write and its acknowledgment) are not delivered: cut them.
	unacked := 0
	if b, err := os.ReadFile(out); err != nil {
		t.Fatal(err)
	} else if int64(len(b)) > rd.off {
		unacked = bytes.Count(b[rd.off:], []byte("\n"))
		if err := os.Truncate(out, rd.off); err != nil {
			t.Fatal(err)
		}
	}
	_, killedDups, _ := rstTotals(checker.Report())

	// Child 2 on the same storage reads the rest, then stops on SIGTERM.
	second := rstStartChild(t, env...)
	for done := checker.Done(); done != nil; {
		select {
		case <-second.notify:
			rd.readTo(t, second.acked.Load())
		case <-done:
			done = nil
		case <-second.eof:
			t.Fatalf("child 2 exited early:\n%s", second.output)
		case <-ctx.Done():
			t.Fatalf("not every line arrived: %v\n%s\nchild 2:\n%s", ctx.Err(), checker.Report(), second.output)
		}
	}
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-second.eof
	if err := second.cmd.Wait(); err != nil {
		t.Fatalf("child 2 did not stop cleanly on SIGTERM: %v\n%s", err, second.output)
	}
	rd.readTo(t, second.acked.Load())

	rep := checker.Report()
	missing, dups, corrupt := rstTotals(rep)
	t.Logf("lines=%d: child 1 acknowledged %d before SIGKILL (+%d written but unacknowledged, discarded), child 2 %d; lost=%d duplicates=%d corrupt=%d bad=%d",
		2*perStream, linesFirst, unacked, rd.lines-linesFirst, missing, dups, corrupt, rd.bad)
	if killedDups != 0 {
		t.Errorf("child 1 alone delivered %d duplicates", killedDups)
	}
	if missing != 0 || corrupt != 0 || rd.bad != 0 {
		t.Fatalf("lines lost or damaged across SIGKILL: %v\n%s", rep.Err(), rep)
	}
	// Only lines acknowledged after the last position write come again; the
	// saver writes at most positionSaveInterval (200 ms: 60 lines at the
	// container's 300 lines/s) after an acknowledgment.
	if dups > 1000 {
		t.Fatalf("%d duplicates after SIGKILL: the saved position lags far behind the acknowledgments", dups)
	}
}
