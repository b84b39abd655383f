package receiver

// The table "What a collector reads when it starts" of docs/lifecycle.md,
// cell by cell, on the real Docker Engine.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
)

// What a cell says the restarted collector delivers of one container's log
// (with storage: both collectors together), per stream.
type lcWant int

const (
	lcNothing lcWant = iota
	lcWhole          // the whole log, each line once
	lcSuffix         // a proper, non-empty tail of it, each line once
)

func (w lcWant) String() string { return [...]string{"nothing", "whole log", "tail"}[w] }

// lcRow is one row of the table: a container's history around the restart.
type lcRow string

const (
	lcRunningAtStartup lcRow = "running at startup"
	lcExitedBefore     lcRow = "exited before startup"
	lcStartedWhileDown lcRow = "started while down, still running"
	lcStartedAndExited lcRow = "started and exited while down"
	lcRestartedDown    lcRow = "restarted while down"
)

// lcTable is that table. "At startup" is the first collector's start
// (with storage: its store is new); "down" is the time between it and the
// next collector.
var lcTable = map[string]map[lcRow]lcWant{
	"end": {
		lcRunningAtStartup: lcSuffix, lcExitedBefore: lcNothing, lcStartedWhileDown: lcSuffix,
		lcStartedAndExited: lcNothing, lcRestartedDown: lcSuffix,
	},
	"end+storage": {
		lcRunningAtStartup: lcSuffix, lcExitedBefore: lcNothing, lcStartedWhileDown: lcWhole,
		lcStartedAndExited: lcWhole, lcRestartedDown: lcSuffix,
	},
	"beginning": {
		lcRunningAtStartup: lcWhole, lcExitedBefore: lcWhole, lcStartedWhileDown: lcWhole,
		lcStartedAndExited: lcWhole, lcRestartedDown: lcWhole,
	},
	"beginning+storage": {
		lcRunningAtStartup: lcWhole, lcExitedBefore: lcWhole, lcStartedWhileDown: lcWhole,
		lcStartedAndExited: lcWhole, lcRestartedDown: lcWhole,
	},
}

// TestLifecycleTable runs, per column, two collectors one after the other
// (the second on the first's storage where the column has storage; without
// storage only the second one's delivery counts: it starts afresh) around
// five containers, one per row, and compares what was delivered with the
// containers' logs as docker logs prints them. For the restarted container,
// the tail covers the end of its first run and its whole second run.
func TestLifecycleTable(t *testing.T) {
	e := dockertest.Require(t)
	for _, column := range []string{"end", "end+storage", "beginning", "beginning+storage"} {
		t.Run(column, func(t *testing.T) { lcColumn(t, e, column) })
	}
}

func lcColumn(t *testing.T, e *dockertest.Engine, column string) {
	key, val := rstLabel(e, t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	runArgs := func(n int, rate string) []string {
		return []string{"-n", fmt.Sprint(n), "-streams", "both", "-rate", rate}
	}
	start := func(name string, args []string) *dockertest.Container {
		return e.Run(t, dockertest.RunOptions{Name: name, Labels: map[string]string{key: val}, Args: args,
			LogOpts: map[string]string{"max-size": "500m"}})
	}
	storage := strings.HasSuffix(column, "+storage")
	cfg := testConfig(e.Endpoint())
	cfg.StartAt = strings.TrimSuffix(column, "+storage")
	cfg.RotationInterval = time.Second
	cfg.Include.Labels = []string{key + "=" + val}
	if storage {
		id := rstStorageID
		cfg.Storage = &id
	}
	dir := t.TempDir()

	// Before the first collector: one container ran and exited, two run.
	exited := start("exited", runArgs(20, "0"))
	lcWaitExited(ctx, t, exited)
	running := start("running", runArgs(150, "10"))    // 15 s
	restarted := start("restarted", runArgs(60, "10")) // 6 s a run
	rp, qp := rstFollow(t, running), rstFollow(t, restarted)
	if err := rp.waitSeq(ctx, "stdout", 3); err != nil {
		t.Fatal(err)
	}
	if err := qp.waitSeq(ctx, "stdout", 3); err != nil {
		t.Fatal(err)
	}

	sinkA, sinkB := &logsink.Sink{}, &logsink.Sink{}
	_, a := rstStart(t, cfg, sinkA, rstHost(dir))
	// The first collector reads a few lines of both running containers.
	if err := waitFor(ctx, func() bool {
		recs := sinkA.Records()
		return len(lcStreamSeqs(recs, running.Name, "stdout")) >= 3 && len(lcStreamSeqs(recs, restarted.Name, "stdout")) >= 3
	}); err != nil {
		t.Fatalf("the first collector did not read the running containers: %v", err)
	}
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	if err := a.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	scancel()

	// While down: one starts and keeps running, one starts and exits, one
	// is restarted (its first run cut short), and everything running
	// writes on.
	whileDown := start("whiledown", runArgs(100, "10")) // 10 s
	doneDown := start("donedown", runArgs(30, "0"))
	lcWaitExited(ctx, t, doneDown)
	if err := restarted.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	wp := rstFollow(t, whileDown)
	if err := wp.waitSeq(ctx, "stdout", 5); err != nil {
		t.Fatal(err)
	}
	if err := rp.waitSeq(ctx, "stdout", rp.seq("stdout")+3); err != nil {
		t.Fatal(err)
	}

	ttB, _ := rstStart(t, cfg, sinkB, rstHost(dir))
	lcWaitExited(ctx, t, running, restarted, whileDown)

	rows := map[lcRow]*dockertest.Container{
		lcRunningAtStartup: running, lcExitedBefore: exited, lcStartedWhileDown: whileDown,
		lcStartedAndExited: doneDown, lcRestartedDown: restarted,
	}
	logs := map[lcRow][2][]string{}
	for row, c := range rows {
		o, er, err := c.Logs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		logs[row] = [2][]string{lcLines(o), lcLines(er)}
	}
	delivered := func() []logsink.Record {
		if storage {
			return append(sinkA.Records(), sinkB.Records()...)
		}
		return sinkB.Records()
	}
	check := func(recs []logsink.Record) []string {
		var problems []string
		for row, c := range rows {
			want := lcTable[column][row]
			for i, stream := range []string{"stdout", "stderr"} {
				var got []string
				for _, r := range recs {
					if r.Container == c.Name && r.Stream == stream {
						got = append(got, r.Body)
					}
				}
				if p := lcCompare(logs[row][i], got, want); p != "" {
					problems = append(problems, fmt.Sprintf("%s (%s) %s: %s", row, c.Name, stream, p))
				}
			}
		}
		slices.Sort(problems)
		return problems
	}
	// Wait until every cell holds, then two rotations more for late lines.
	var problems []string
	if err := waitFor(ctx, func() bool { problems = check(delivered()); return len(problems) == 0 }); err != nil {
		t.Fatalf("%s: not as the table says after %v:\n%s", column, err, strings.Join(problems, "\n"))
	}
	rot := counter(t, ttB, "dockerlogsrotating_stream_rotations", "", "")
	if err := waitFor(ctx, func() bool {
		return counter(t, ttB, "dockerlogsrotating_stream_rotations", "", "") >= rot+2 || counter(t, ttB, "dockerlogsrotating_containers_watched", "", "") == 0
	}); err != nil {
		t.Fatal(err)
	}
	recs := delivered()
	if problems := check(recs); len(problems) > 0 {
		t.Fatalf("%s: late deliveries broke the table:\n%s", column, strings.Join(problems, "\n"))
	}
	var summary []string
	for _, row := range []lcRow{lcRunningAtStartup, lcExitedBefore, lcStartedWhileDown, lcStartedAndExited, lcRestartedDown} {
		n := 0
		for _, r := range recs {
			if r.Container == rows[row].Name {
				n++
			}
		}
		summary = append(summary, fmt.Sprintf("%s: %s, %d of %d lines", row, lcTable[column][row], n, len(logs[row][0])+len(logs[row][1])))
	}
	t.Logf("%s (%d lines delivered, gaps %d): %s", column, len(recs), counter(t, ttB, "dockerlogsrotating_cursor_gaps", "", ""), strings.Join(summary, "; "))
}

// lcLines splits docker logs output into lines.
func lcLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// lcCompare checks got (in delivery order) against a stream's log; it
// returns what is wrong, or "".
func lcCompare(log, got []string, want lcWant) string {
	tail := len(log) - len(got)
	isTail := tail >= 0 && slices.Equal(log[tail:], got)
	switch {
	case !isTail:
		return fmt.Sprintf("delivered %d lines that are not a tail of the %d in the log (lost, repeated or out of order)", len(got), len(log))
	case want == lcNothing && len(got) > 0:
		return fmt.Sprintf("delivered %d lines, want none", len(got))
	case want == lcWhole && tail > 0:
		return fmt.Sprintf("delivered the last %d of %d lines, want all", len(got), len(log))
	case want == lcSuffix && (len(got) == 0 || tail == 0):
		return fmt.Sprintf("delivered %d of %d lines, want a tail (the lines written after the first start)", len(got), len(log))
	}
	return ""
}
