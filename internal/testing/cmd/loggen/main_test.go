package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/stacktraces"
)

// check feeds loggen output to a seqcheck.Checker under key "k".
func check(c *seqcheck.Checker, stream, out string) {
	for _, l := range strings.SplitAfter(out, "\n") {
		if l != "" {
			c.Add("k", stream, strings.TrimSuffix(l, "\n"))
		}
	}
}

func TestRunBoth(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"-src", "t1", "-n", "25", "-streams", "both", "-sizes", "0,10,16385,40000", "-utf8", "-empty-every", "10", "-exit-code", "3"}, &stdout, &stderr)
	if code != 3 {
		t.Fatalf("exit code %d, stderr %q", code, stderr.String())
	}
	var c seqcheck.Checker
	for _, s := range []string{"stdout", "stderr"} {
		c.Expect("k", s, 25)
		c.ExpectEmpty("k", s, 2)
	}
	check(&c, "stdout", stdout.String())
	check(&c, "stderr", stderr.String())
	r := c.Report()
	if err := r.ErrInOrder(); err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	if s, _ := r.Stream("k", "stdout"); s.Src != "t1" {
		t.Fatalf("src %q", s.Src)
	}
	first := strings.SplitN(stdout.String(), "\n", 2)[0]
	if want := seqcheck.Format("t1", "stdout", 1, 0, true); first != want {
		t.Fatalf("first line %q, want %q", first, want)
	}
}

func TestRunFormat(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"-src", "fmt", "-n", "3", "-size", "12", "-empty-every", "2"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr.String())
	}
	want := seqcheck.Format("fmt", "stdout", 1, 12, false) + "\n" +
		seqcheck.Format("fmt", "stdout", 2, 12, false) + "\n\n" +
		seqcheck.Format("fmt", "stdout", 3, 12, false) + "\n"
	if stdout.String() != want || stderr.Len() != 0 {
		t.Fatalf("stdout %q\nwant   %q\nstderr %q", stdout.String(), want, stderr.String())
	}
	t.Logf("output:\n%s", stdout.String())
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-streams", "x"}, {"-src", "a b"}, {"-sizes", "1,x"}, {"-then", "x"}, {"-n", "-1"}, {"extra"}, {"-nope"}} {
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), args, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("%q: code %d stderr %q", args, code, errOut.String())
		}
	}
}

// syncBuffer is a bytes.Buffer that signals each write.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	select {
	case b.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunSleepUntilCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{wrote: make(chan struct{}, 1)}
	var errOut bytes.Buffer
	code := make(chan int, 1)
	go func() { code <- Run(ctx, []string{"-n", "2", "-then", "sleep", "-exit-code", "5"}, out, &errOut) }()
	<-out.wrote // all written at the final flush
	select {
	case c := <-code:
		t.Fatalf("returned %d before SIGTERM", c)
	default:
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit code %d after SIGTERM", c)
	}
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Fatalf("%d lines", n)
	}
}

func TestRunRateStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{wrote: make(chan struct{}, 1)}
	code := make(chan int, 1)
	start := time.Now()
	go func() { code <- Run(ctx, []string{"-n", "1000000", "-rate", "1000"}, out, &bytes.Buffer{}) }()
	<-out.wrote // flushed per line
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("exit code %d", c)
	}
	lines := strings.Count(out.String(), "\n")
	if lines == 0 || time.Since(start) > 10*time.Second {
		t.Fatalf("%d lines in %v", lines, time.Since(start))
	}
	var c seqcheck.Checker
	c.Expect("k", "stdout", lines)
	check(&c, "stdout", out.String())
	if err := c.Report().ErrInOrder(); err != nil {
		t.Fatal(err)
	}
}

func TestRunStartDelayCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	if code := Run(ctx, []string{"-start-delay", "1h"}, &out, &out); code != 0 || out.Len() != 0 {
		t.Fatalf("code %d out %q", code, out.String())
	}
}

// TestRunTraces: -traces writes each stream's plan
// (internal/testing/stacktraces).
func TestRunTraces(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"-src", "tr", "-traces", "2", "-deep", "5", "-streams", "both", "-size", "20"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr.String())
	}
	for _, s := range []struct {
		name string
		got  string
	}{{"stdout", stdout.String()}, {"stderr", stderr.String()}} {
		want := strings.Join(stacktraces.Lines(stacktraces.Plan("tr", s.name, stacktraces.Options{Rounds: 2, Deep: 5, LineSize: 20})), "\n") + "\n"
		if s.got != want {
			t.Errorf("%s:\n%s\nwant\n%s", s.name, s.got, want)
		}
	}
}

// TestRunTracesPause: -pause-after stops both streams after that many
// lines each until resumed.
func TestRunTracesPause(t *testing.T) {
	out := &syncBuffer{wrote: make(chan struct{}, 1)}
	errOut := &syncBuffer{wrote: make(chan struct{}, 1)}
	resume := make(chan struct{})
	code := make(chan int, 1)
	go func() {
		code <- RunResumable(context.Background(), []string{"-src", "p", "-traces", "1", "-streams", "both", "-pause-after", "7"}, out, errOut, resume)
	}()
	<-out.wrote // flushed at the pause
	<-errOut.wrote
	if n, m := strings.Count(out.String(), "\n"), strings.Count(errOut.String(), "\n"); n != 7 || m != 7 {
		t.Fatalf("%d and %d lines before the pause, want 7", n, m)
	}
	select {
	case c := <-code:
		t.Fatalf("returned %d while paused", c)
	default:
	}
	close(resume)
	if c := <-code; c != 0 {
		t.Fatalf("exit code %d", c)
	}
	want := stacktraces.Lines(stacktraces.Plan("p", "stdout", stacktraces.Options{Rounds: 1, LineSize: 64}))
	if got := strings.Count(out.String(), "\n"); got != len(want) {
		t.Fatalf("%d stdout lines, want %d", got, len(want))
	}
}

func TestRunTracesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-deep", "3"}, {"-pause-after", "3"}, {"-traces", "-1"}} {
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), args, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("%q: code %d stderr %q", args, code, errOut.String())
		}
	}
}
