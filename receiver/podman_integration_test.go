package receiver

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/podmantest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
)

// TestPodmanExactlyOnceAcrossRotations reads containers through Podman's
// Docker-compatible API with a rotation every second and checks every line
// arrives once and intact, with no gap reported: stdout and stderr
// interleaved at 10 lines/s, lines longer than conmon's 8 KiB buffer (split
// into parts stamped one by one), a TTY container, and one that writes fast
// and exits. Podman's stamps are whole seconds, its since is exclusive, and
// its tail re-assembles parts, so none of Docker's rules hold unchanged.
func TestPodmanExactlyOnceAcrossRotations(t *testing.T) {
	p := podmantest.Require(t)
	sink := &logsink.Sink{}
	cfg := testConfig(p.Endpoint())
	cfg.RotationInterval = time.Second
	cfg.Include.Labels = []string{podmantest.LabelRun + "=" + p.RunID()}
	tt := run(t, cfg, sink)

	type want struct {
		streams []string
		n       int
	}
	wants := map[string]want{}
	start := func(o podmantest.RunOptions, w want) {
		c := p.Run(t, o)
		wants[c.Name] = w
	}
	// 10 lines/s for 15 s: about 13 rotations while writing.
	start(podmantest.RunOptions{Name: "slow", Args: []string{"-n", "75", "-streams", "both", "-rate", "10", "-then", "sleep"}},
		want{[]string{"stdout", "stderr"}, 75})
	start(podmantest.RunOptions{Name: "long", Args: []string{"-n", "40", "-streams", "both", "-sizes", "100,9000,20000,5", "-rate", "8", "-then", "sleep"}},
		want{[]string{"stdout", "stderr"}, 40})
	start(podmantest.RunOptions{Name: "tty", TTY: true, Args: []string{"-n", "150", "-streams", "stdout", "-rate", "10", "-then", "sleep"}},
		want{[]string{"stdout"}, 150})
	start(podmantest.RunOptions{Name: "exits", Args: []string{"-n", "3000", "-streams", "both", "-then", "exit"}},
		want{[]string{"stdout", "stderr"}, 3000})
	for name, w := range wants {
		for _, s := range w.streams {
			sink.Checker.Expect(name, s, w.n)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	waitErr := sink.Checker.Wait(ctx)
	rotations := counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "rotation")
	gaps := counter(t, tt, "dockerlogsrotating_cursor_gaps", "", "")
	t.Logf("lines=%d rotations=%d duplicates_skipped=%d gaps=%d batches=%d",
		len(sink.Records()), rotations, counter(t, tt, "dockerlogsrotating_duplicates_skipped", "", ""), gaps, sink.Batches())
	rep := sink.Checker.Report()
	for _, s := range rep.Streams {
		for _, sample := range s.Samples {
			t.Logf("%s/%s: %s", s.Key, s.Stream, sample)
		}
	}
	if waitErr != nil {
		t.Fatalf("not every line arrived: %v", waitErr)
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("delivery not exactly once: %v", err)
	}
	if gaps != 0 {
		t.Errorf("%d gaps reported; nothing was rotated away", gaps)
	}
	if rotations < 10 {
		t.Errorf("only %d rotations happened; the test needs at least 10 to mean something", rotations)
	}
	if merged := counter(t, tt, "dockerlogsrotating_lines_merged", "", ""); merged == 0 {
		t.Error("no line was merged from conmon's 8 KiB parts")
	}
}

// TestPodmanStartAtEnd starts the receiver (start_at: end) while a container
// writes: what it wrote before is skipped, and from some line on every line
// arrives once, up to the last, with no gap. Podman's tail cannot find that
// point (it joins split lines its own way, its stamps are whole seconds), so
// the receiver reads the last second of the log to place it.
//
// The last line is a short one: a split line that is a container's last
// output before it goes quiet was once held back (docs/podman.md).
func TestPodmanStartAtEnd(t *testing.T) {
	p := podmantest.Require(t)
	const n = 81 // sizes cycle 100, 9000 bytes: line 81 is short
	c := p.Run(t, podmantest.RunOptions{Name: "end", Args: []string{"-n", strconv.Itoa(n), "-streams", "both", "-sizes", "100,9000", "-rate", "20", "-then", "sleep"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Wait until the container has written some lines: its log file grows.
	for {
		out, err := p.Podman(ctx, "logs", c.Name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(out), "\n") >= 10 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the container wrote nothing")
		case <-time.After(100 * time.Millisecond):
		}
	}
	sink := &logsink.Sink{}
	cfg := testConfig(p.Endpoint())
	cfg.StartAt = StartAtEnd
	cfg.RotationInterval = time.Second
	cfg.Include.Labels = []string{podmantest.LabelRun + "=" + p.RunID()}
	tt := run(t, cfg, sink)

	for !lastArrived(sink, c.Name, n) {
		if err := sink.WaitFor(ctx, len(sink.Records())+1); err != nil {
			t.Fatalf("line %d did not arrive: %v\n%s", n, err, sink.Checker.Report())
		}
	}
	for _, s := range []string{"stdout", "stderr"} {
		var seqs []int
		for _, r := range sink.Records() {
			if r.Container != c.Name || r.Stream != s {
				continue
			}
			l, err := seqcheck.Parse(r.Body)
			if err != nil {
				t.Fatalf("%s: corrupt line %q: %v", s, r.Body, err)
			}
			seqs = append(seqs, l.Seq)
		}
		slices.Sort(seqs)
		for i := 1; i < len(seqs); i++ {
			if seqs[i] != seqs[i-1]+1 {
				t.Fatalf("%s: lines %v are not one run up to %d (lost or repeated)", s, seqs, n)
			}
		}
		if seqs[0] == 1 {
			t.Errorf("%s: line 1, written before the receiver started, arrived", s)
		}
		t.Logf("%s: lines %d to %d", s, seqs[0], seqs[len(seqs)-1])
	}
	if gaps := counter(t, tt, "dockerlogsrotating_cursor_gaps", "", ""); gaps != 0 {
		t.Errorf("%d gaps reported", gaps)
	}
}

// lastArrived reports whether line n of both streams of container name arrived.
func lastArrived(sink *logsink.Sink, name string, n int) bool {
	got := map[string]bool{}
	for _, r := range sink.Records() {
		if l, err := seqcheck.Parse(r.Body); r.Container == name && err == nil && l.Seq == n {
			got[r.Stream] = true
		}
	}
	return got["stdout"] && got["stderr"]
}
