package receiver

import (
	"context"
	"slices"
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
// arrives once, with no gap. Podman's tail cannot find that point (it joins
// split lines its own way, its stamps are whole seconds), so the receiver
// reads the last second of the log to place it.
//
// The container never stops writing: one that wrote a fixed number of lines
// could finish before a slow machine started the receiver, and then rightly
// nothing arrives (such a run was once taken for a lost last line).
func TestPodmanStartAtEnd(t *testing.T) {
	p := podmantest.Require(t)
	c := p.Run(t, podmantest.RunOptions{Name: "end", Args: []string{"-n", "1000000", "-streams", "both", "-sizes", "100,9000", "-rate", "20", "-then", "sleep"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Wait until the container has written some lines: its log file grows.
	for lastWritten(ctx, t, p, c.Name) < 5 {
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

	// Lines written after the receiver started, and then ten more on each
	// stream, split ones among them (every second line is), must arrive.
	want := lastWritten(ctx, t, p, c.Name) + 10
	for !arrivedUpTo(sink, c.Name, want, 10) {
		if err := sink.WaitFor(ctx, len(sink.Records())+1); err != nil {
			t.Fatalf("line %d and ten lines of each stream did not arrive: %v\n%s", want, err, sink.Checker.Report())
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
				t.Fatalf("%s: lines %v are not one run (lost or repeated)", s, seqs)
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

// arrivedUpTo reports whether, on both streams of container name, line n
// or a later one, and at least least lines in all, arrived.
func arrivedUpTo(sink *logsink.Sink, name string, n, least int) bool {
	last, count := map[string]int{}, map[string]int{}
	for _, r := range sink.Records() {
		if l, err := seqcheck.Parse(r.Body); r.Container == name && err == nil {
			last[r.Stream] = max(last[r.Stream], l.Seq)
			count[r.Stream]++
		}
	}
	for _, s := range []string{"stdout", "stderr"} {
		if last[s] < n || count[s] < least {
			return false
		}
	}
	return true
}

// lastWritten is the sequence number of the last whole line container name
// wrote to stdout, as Podman's CLI reads the log (0 if none).
func lastWritten(ctx context.Context, t *testing.T, p *podmantest.Service, name string) int {
	t.Helper()
	out, err := p.Podman(ctx, "logs", name)
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for l := range strings.Lines(string(out)) {
		if g, err := seqcheck.Parse(strings.TrimSuffix(l, "\n")); err == nil && g.Stream == "stdout" {
			last = max(last, g.Seq)
		}
	}
	return last
}
