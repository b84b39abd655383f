package receiver

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
)

// TestIntegrationExactlyOnceAcrossRotations reads real containers with a
// rotation every second and checks every line arrives once and intact:
// stdout and stderr interleaved, long lines split by Docker at 16 KiB, a TTY
// container, and a burst of 50,000 lines.
func TestIntegrationExactlyOnceAcrossRotations(t *testing.T) {
	e := dockertest.Require(t)
	sink := &logsink.Sink{}
	cfg := testConfig(e.Endpoint())
	cfg.RotationInterval = time.Second
	cfg.Include.Labels = []string{"dockerlogsrotating.test.run=" + e.RunID()}
	tt := run(t, cfg, sink)

	type want struct {
		streams []string
		n       int
	}
	wants := map[string]want{}
	start := func(o dockertest.RunOptions, w want) {
		// Docker's own file rotation (this engine defaults to 10m) is
		// tested on its own; here every line stays in one file.
		o.LogOpts = map[string]string{"max-size": "500m"}
		c := e.Run(t, o)
		wants[c.Name] = w
	}
	// 50,000 lines over about 25 s: at least 20 rotations while writing.
	start(dockertest.RunOptions{Name: "burst", Args: []string{"-n", "25000", "-streams", "both", "-rate", "2000", "-size", "60", "-then", "sleep"}},
		want{[]string{"stdout", "stderr"}, 25000})
	start(dockertest.RunOptions{Name: "long", Args: []string{"-n", "150", "-streams", "both", "-sizes", "100,16385,102400,16384,32768,5", "-rate", "10", "-utf8", "-then", "sleep"}},
		want{[]string{"stdout", "stderr"}, 150})
	start(dockertest.RunOptions{Name: "tty", TTY: true, Args: []string{"-n", "3000", "-streams", "stdout", "-sizes", "80,20000", "-rate", "150", "-then", "sleep"}},
		want{[]string{"stdout"}, 3000})
	start(dockertest.RunOptions{Name: "exits", Args: []string{"-n", "5000", "-streams", "both", "-then", "exit"}},
		want{[]string{"stdout", "stderr"}, 5000})
	for name, w := range wants {
		for _, s := range w.streams {
			sink.Checker.Expect(name, s, w.n)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := sink.Checker.Wait(ctx); err != nil {
		t.Fatalf("not every line arrived: %v", err)
	}
	rotations := counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "rotation")
	rep := sink.Checker.Report()
	if err := rep.Err(); err != nil {
		t.Fatalf("delivery not exactly once: %v", err)
	}
	total := len(sink.Records())
	t.Logf("lines=%d rotations=%d duplicates_skipped=%d gaps=%d batches=%d",
		total, rotations, counter(t, tt, "dockerlogsrotating_duplicates_skipped", "", ""),
		counter(t, tt, "dockerlogsrotating_cursor_gaps", "", ""), sink.Batches())
	if rotations < 20 {
		t.Errorf("only %d rotations happened; the test needs at least 20 to mean something", rotations)
	}
	if merged := counter(t, tt, "dockerlogsrotating_lines_merged", "", ""); merged == 0 {
		t.Error("no line was merged from 16 KiB parts")
	}
}

// TestIntegrationShortLivedContainers starts containers that print a few
// lines and exit at once, usually before discovery inspects them: each must
// still be read, once.
func TestIntegrationShortLivedContainers(t *testing.T) {
	e := dockertest.Require(t)
	sink := &logsink.Sink{}
	cfg := testConfig(e.Endpoint())
	cfg.Include.Labels = []string{"dockerlogsrotating.test.run=" + e.RunID()}
	run(t, cfg, sink)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range 20 {
		c := e.Run(t, dockertest.RunOptions{Name: "brief" + strconv.Itoa(i), Args: []string{"-n", "10", "-streams", "both", "-then", "exit"}})
		sink.Checker.Expect(c.Name, "stdout", 10)
		sink.Checker.Expect(c.Name, "stderr", 10)
	}
	if err := sink.Checker.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sink.Checker.Report().Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("20 containers, %d lines", len(sink.Records()))
}
