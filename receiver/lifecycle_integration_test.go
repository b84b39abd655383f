package receiver

// Container lifecycles across collector downtime, on the real Docker
// Engine: containers that exit while no collector runs, containers that
// exited before it started, containers that exit and stay (no follower may
// stay behind), a container in a restart loop next to busy ones, and a
// quiet container's saved position.

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/enginetest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
)

// lcRun starts a loggen container of the test, writing n lines per stream
// on both streams at rate lines/s (all streams together), then exiting.
func lcRun(t *testing.T, e *dockertest.Engine, key, val, name string, n int, rate float64) *dockertest.Container {
	t.Helper()
	return e.Run(t, dockertest.RunOptions{
		Name: name, Labels: map[string]string{key: val},
		Args:    []string{"-n", strconv.Itoa(n), "-streams", "both", "-rate", strconv.FormatFloat(rate, 'f', -1, 64)},
		LogOpts: map[string]string{"max-size": "500m"},
	})
}

// lcWaitExited waits until every container exited.
func lcWaitExited(ctx context.Context, t *testing.T, cs ...*dockertest.Container) {
	t.Helper()
	for _, c := range cs {
		if _, err := c.Wait(ctx); err != nil {
			t.Fatalf("wait for %s: %v", c.Name, err)
		}
	}
}

// lcStreamSeqs returns the seqs a stream of a container delivered.
func lcStreamSeqs(recs []logsink.Record, name, stream string) []int {
	var seqs []int
	for _, r := range recs {
		if r.Container != name || r.Stream != stream {
			continue
		}
		if l, err := seqcheck.Parse(r.Body); err == nil {
			seqs = append(seqs, l.Seq)
		}
	}
	return seqs
}

// TestLifecycleContainersExitingWhileDownAreReadToTheirEnd stops a
// collector (clean shutdown, file storage) while three containers of
// different lengths write on stdout and stderr; they exit while no collector
// runs; a new collector on the same storage delivers the rest of every one:
// each line exactly once over both collectors.
func TestLifecycleContainersExitingWhileDownAreReadToTheirEnd(t *testing.T) {
	e := dockertest.Require(t)
	key, val := rstLabel(e, t)
	lengths := []int{60, 150, 300} // lines per stream; 40 lines/s: 3 to 15 s
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	all := &logsink.Sink{}
	cfg := testConfig(e.Endpoint())
	cfg.StartAt = StartAtEnd
	cfg.RotationInterval = time.Second
	cfg.Include.Labels = []string{key + "=" + val}
	storage := rstStorageID
	cfg.Storage = &storage
	dir := t.TempDir()

	sinkA := &logsink.Sink{}
	_, a := rstStart(t, cfg, rstTee{sinkA, all}, rstHost(dir))
	var cs []*dockertest.Container
	for i, n := range lengths {
		c := lcRun(t, e, key, val, "exitdown"+strconv.Itoa(i), n, 40)
		cs = append(cs, c)
		all.Checker.Expect(c.Name, "stdout", n)
		all.Checker.Expect(c.Name, "stderr", n)
	}
	// A reads a little of every container, then stops while they write.
	if err := waitFor(ctx, func() bool {
		recs := sinkA.Records()
		for _, c := range cs {
			if len(lcStreamSeqs(recs, c.Name, "stdout")) < 20 {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatalf("receiver A did not read 20 lines of every container: %v", err)
	}
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	if err := a.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	scancel()
	linesA := len(sinkA.Records())
	lcWaitExited(ctx, t, cs...)

	sinkB := &logsink.Sink{}
	ttB, _ := rstStart(t, cfg, rstTee{sinkB, all}, rstHost(dir))
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	err := all.Checker.Wait(wctx)
	wcancel()
	rep := all.Checker.Report()
	missing, dups, corrupt := rstTotals(rep)
	t.Logf("lines=%d: receiver A %d + receiver B %d; lost=%d duplicates=%d corrupt=%d gaps=%d",
		2*(60+150+300), linesA, len(sinkB.Records()), missing, dups, corrupt, counter(t, ttB, "dockerlogsrotating_cursor_gaps", "", ""))
	if err != nil || rep.Err() != nil {
		t.Fatalf("not every line of the containers that exited while no collector ran arrived exactly once: %v\n%s", err, rep)
	}
	if g := counter(t, ttB, "dockerlogsrotating_cursor_gaps", "", ""); g != 0 {
		t.Errorf("%d gaps reported", g)
	}
}

// TestLifecycleBeginningReadsContainersThatExitedBeforeStart: with start_at
// beginning, containers that ran and exited before the collector started are
// read whole.
func TestLifecycleBeginningReadsContainersThatExitedBeforeStart(t *testing.T) {
	e := dockertest.Require(t)
	key, val := rstLabel(e, t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sink := &logsink.Sink{}
	var cs []*dockertest.Container
	total := 0
	for i, n := range []int{100, 250, 400} {
		c := lcRun(t, e, key, val, "exitedbefore"+strconv.Itoa(i), n, 0)
		cs = append(cs, c)
		sink.Checker.Expect(c.Name, "stdout", n)
		sink.Checker.Expect(c.Name, "stderr", n)
		total += 2 * n
	}
	lcWaitExited(ctx, t, cs...)

	cfg := testConfig(e.Endpoint())
	cfg.StartAt = StartAtBeginning
	cfg.Include.Labels = []string{key + "=" + val}
	tt := run(t, cfg, sink)
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	err := sink.Checker.Wait(wctx)
	wcancel()
	rep := sink.Checker.Report()
	missing, dups, _ := rstTotals(rep)
	t.Logf("lines=%d received=%d lost=%d duplicates=%d", total, len(sink.Records()), missing, dups)
	if err != nil || rep.Err() != nil {
		t.Fatalf("containers that exited before the collector started were not read whole: %v\n%s", err, rep)
	}
	// Read to their end, they keep no follower.
	if err := waitFor(ctx, func() bool { return counter(t, tt, "dockerlogsrotating_containers_watched", "", "") == 0 }); err != nil {
		t.Errorf("containers_watched %d after every exited container was read", counter(t, tt, "dockerlogsrotating_containers_watched", "", ""))
	}
}

// TestLifecycleExitedContainersKeepNoGoroutine runs 40 short-lived
// containers that exit and are not removed: once their lines arrived, the
// collector holds no more goroutines than before them.
func TestLifecycleExitedContainersKeepNoGoroutine(t *testing.T) {
	const containers, perStream = 40, 5
	e := dockertest.Require(t)
	key, val := rstLabel(e, t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	sink := &logsink.Sink{}
	cfg := testConfig(e.Endpoint())
	cfg.StartAt = StartAtEnd
	cfg.Include.Labels = []string{key + "=" + val}
	run(t, cfg, sink)
	// The receiver is connected and idle once its first listing is done
	// (it lists every resync); then the baseline is taken.
	time.Sleep(3 * cfg.ResyncInterval / 2)
	before := settledGoroutines(ctx, -1)

	var cs []*dockertest.Container
	for i := range containers {
		c := e.Run(t, dockertest.RunOptions{
			Name: "churn" + strconv.Itoa(i), Labels: map[string]string{key: val},
			Args: []string{"-n", strconv.Itoa(perStream), "-streams", "both"},
		})
		cs = append(cs, c)
		sink.Checker.Expect(c.Name, "stdout", perStream)
		sink.Checker.Expect(c.Name, "stderr", perStream)
	}
	lcWaitExited(ctx, t, cs...)
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	err := sink.Checker.Wait(wctx)
	wcancel()
	after := settledGoroutines(ctx, before)
	t.Logf("%d containers exited (not removed): goroutines %d before, %d after; lines %d of %d", containers, before, after, len(sink.Records()), 2*containers*perStream)
	// Idle keep-alive connections of the HTTP client hold two goroutines
	// each; a follower per exited container would hold far more.
	if after > before+4 {
		t.Errorf("goroutines %d after %d containers exited, %d before: exited containers keep goroutines", after, containers, before)
	}
	if err != nil || sink.Checker.Report().Err() != nil {
		t.Fatalf("lines of the short-lived containers: %v\n%s", err, sink.Checker.Report())
	}
}

// settledGoroutines waits until the goroutine count stops falling (or
// reaches target) and returns it.
func settledGoroutines(ctx context.Context, target int) int {
	n := runtime.NumGoroutine()
	for stable := 0; stable < 10 && n > target; {
		select {
		case <-ctx.Done():
			return n
		case <-time.After(100 * time.Millisecond):
		}
		m := runtime.NumGoroutine()
		if m >= n {
			stable++
		} else {
			stable = 0
		}
		n = m
	}
	return n
}

// TestLifecycleCrashLoopDoesNotStarveOthers: a container under
// --restart always whose process exits at once, beside three containers
// writing 20 lines/s, one stream slot, rotation every 2 s. Every line of
// the three arrives, and the looping container costs a few requests per
// restart, not a request loop.
func TestLifecycleCrashLoopDoesNotStarveOthers(t *testing.T) {
	const perStream = 1000 // 20 lines/s: 50 s
	e := dockertest.Require(t)
	key, val := rstLabel(e, t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	proxy := enginetest.NewAllowlistProxy(t, e.Endpoint())

	sink := &logsink.Sink{}
	cfg := testConfig(proxy.Endpoint())
	cfg.StartAt = StartAtEnd
	cfg.RotationInterval = 2 * time.Second
	cfg.MaxConcurrentStreams = 1
	cfg.Include.Labels = []string{key + "=" + val}
	tt := run(t, cfg, sink)

	looping := e.Run(t, dockertest.RunOptions{
		Name: "crashloop", Labels: map[string]string{key: val}, Restart: "always",
		Args: []string{"-n", "1", "-exit-code", "1"}, // a line, then it fails
	})
	var normal []*dockertest.Container
	for i := range 3 {
		c := e.Run(t, dockertest.RunOptions{
			Name: "beside" + strconv.Itoa(i), Labels: map[string]string{key: val},
			Args:    []string{"-n", strconv.Itoa(perStream), "-rate", "20", "-then", "sleep"},
			LogOpts: map[string]string{"max-size": "500m"},
		})
		normal = append(normal, c)
		sink.Checker.Expect(c.Name, "stdout", perStream)
	}
	started := time.Now()
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	err := sink.Checker.Wait(wctx)
	wcancel()
	elapsed := time.Since(started)

	// End the loop; every run of the looping container wrote one line.
	// The daemon can refuse the update while it is starting the container
	// ("runc did not terminate successfully", seen once): try again.
	var uerr error
	for range 10 {
		if _, uerr = e.Docker(ctx, "update", "--restart", "no", looping.ID); uerr == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if uerr != nil {
		t.Fatal(uerr)
	}
	lcWaitExited(ctx, t, looping)
	out, ierr := e.Docker(ctx, "inspect", "-f", "{{.RestartCount}}", looping.ID)
	if ierr != nil {
		t.Fatal(ierr)
	}
	restarts, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	loopLines := func() int { return len(lcStreamSeqs(sink.Records(), looping.Name, "stdout")) }
	lerr := waitFor(ctx, func() bool { return loopLines() >= restarts+1 })
	var logReqs, inspects, logReqsLooping int
	for _, r := range proxy.Requests() {
		switch {
		case strings.HasSuffix(r.Template, "/logs"):
			logReqs++
			if strings.Contains(r.Path, looping.ID) {
				logReqsLooping++
			}
		case strings.HasSuffix(r.Template, "/json") && strings.Contains(r.Template, "{id}"):
			inspects++
		}
	}
	waitMax, _ := histogramMax(t, tt, "dockerlogsrotating_pool_wait")
	// The looping container's runs repeat seq 1: checked apart.
	others := &seqcheck.Checker{}
	for _, c := range normal {
		others.Expect(c.Name, "stdout", perStream)
	}
	for _, r := range sink.Records() {
		if r.Container != looping.Name {
			others.Add(r.Container, r.Stream, r.Body)
		}
	}
	rep := others.Report()
	missing, dups, _ := rstTotals(rep)
	t.Logf("%v: looping container restarted %d times, delivered %d lines; its log requests %d; all log requests %d, inspects %d (%.1f requests/s); the three others: lost %d, duplicates %d of %d lines; longest pool wait %.2f s",
		elapsed.Round(time.Millisecond), restarts, loopLines(), logReqsLooping, logReqs, inspects, float64(logReqs+inspects)/elapsed.Seconds(),
		missing, dups, 3*perStream, waitMax)
	if err != nil || rep.Err() != nil {
		t.Fatalf("the containers beside the restart loop did not get every line exactly once: %v\n%s", err, rep)
	}
	if lerr != nil || loopLines() != restarts+1 {
		t.Errorf("the looping container's %d runs delivered %d lines, want one each", restarts+1, loopLines())
	}
	// Each restart: at most a stream that follows it and one that reads it
	// to its end, plus a read of a run that ended before it was opened.
	if limit := 3*(restarts+1) + 5; logReqsLooping > limit {
		t.Errorf("%d log requests for %d restarts of the looping container (limit %d): a request loop", logReqsLooping, restarts, limit)
	}
	// Three others and the looper share one slot: the documented bound is
	// ceil((N-K)/K) x 1.1 x rotation, plus a reopen.
	if bound := 3*1.1*cfg.RotationInterval.Seconds() + 1; waitMax > bound {
		t.Errorf("longest pool wait %.2f s, over the bound %.2f s", waitMax, bound)
	}
}

// TestLifecycleQuietContainerKeepsItsPosition: a running container that
// logs nothing for longer than storage_retention keeps its saved position
// across a collector restart; the line it wrote while no collector ran
// arrives.
func TestLifecycleQuietContainerKeepsItsPosition(t *testing.T) {
	e := dockertest.Require(t)
	key, val := rstLabel(e, t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := &logsink.Sink{}
	cfg := testConfig(e.Endpoint())
	cfg.StartAt = StartAtEnd
	cfg.StorageRetention = 10 * time.Second
	cfg.Include.Labels = []string{key + "=" + val}
	storage := rstStorageID
	cfg.Storage = &storage
	dir := t.TempDir()

	_, a := rstStart(t, cfg, rstTee{&logsink.Sink{}, all}, rstHost(dir))
	// One line now, the next 25 s later.
	c := e.Run(t, dockertest.RunOptions{
		Name: "quiet", Labels: map[string]string{key: val},
		Args: []string{"-n", "2", "-rate", "0.04", "-then", "sleep"},
	})
	progress := rstFollow(t, c)
	all.Checker.Expect(c.Name, "stdout", 2)
	if err := all.WaitFor(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Quiet for twice the retention while A runs, then A stops before the
	// second line.
	time.Sleep(20 * time.Second)
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	if err := a.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	scancel()
	if err := progress.waitSeq(ctx, "stdout", 2); err != nil {
		t.Fatal(err)
	}
	rstStart(t, cfg, rstTee{&logsink.Sink{}, all}, rstHost(dir))
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	err := all.Checker.Wait(wctx)
	wcancel()
	rep := all.Checker.Report()
	t.Logf("lines=2 received=%d", len(all.Records()))
	if err != nil || rep.Err() != nil {
		t.Fatalf("the line a quiet container wrote while no collector ran did not arrive: %v\n%s", err, rep)
	}
}
