package seqcheck

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCheckerExactlyOnce(t *testing.T) {
	var c Checker
	c.Expect("c1", "stdout", 3)
	c.Expect("c1", "stderr", 2)
	c.ExpectEmpty("c1", "stdout", 1)
	for seq := 1; seq <= 3; seq++ {
		c.Add("c1", "stdout", Format("gen", "stdout", seq, 20, true))
	}
	c.Add("c1", "stdout", "")
	c.Add("c1", "stderr", Format("gen", "stderr", 2, 5, false))
	c.Add("c1", "stderr", Format("gen", "stderr", 1, 5, false))
	r := c.Report()
	if err := r.Err(); err != nil {
		t.Fatalf("Err: %v\n%s", err, r)
	}
	if err := r.ErrInOrder(); err == nil || !strings.Contains(err.Error(), "c1/stderr: 1 out of order") {
		t.Fatalf("ErrInOrder = %v", err)
	}
	s, ok := r.Stream("c1", "stdout")
	if !ok || s.Received != 3 || s.Unique != 3 || s.Empty != 1 || s.Src != "gen" || s.Missing != 0 {
		t.Fatalf("stdout report %+v", s)
	}
	if len(r.Streams) != 2 || r.Streams[0].Stream != "stderr" {
		t.Fatalf("streams not sorted: %s", r)
	}
}

func TestCheckerProblems(t *testing.T) {
	var c Checker
	c.Expect("k", "stdout", 20)
	for seq := 1; seq <= 22; seq++ {
		if seq == 4 || seq == 7 {
			continue
		}
		c.Add("k", "stdout", Format("a", "stdout", seq, 10, false))
	}
	c.Add("k", "stdout", Format("a", "stdout", 5, 10, false))      // duplicate
	c.Add("k", "stdout", Format("a", "stdout", 4, 10, false)[:30]) // truncated: corrupt
	c.Add("k", "stdout", Format("a", "stderr", 7, 10, false))      // other stream
	c.Add("k", "stdout", Format("b", "stdout", 7, 10, false))      // other src
	c.Add("k", "stdout", "not a loggen line")                      // corrupt
	c.Add("other", "stderr", Format("a", "stderr", 1, 10, false))  // not expected
	c.Add("k", "stdout", Format("a", "stdout", 2, 10, false)+"\r") // TTY CR not trimmed
	r := c.Report()
	s, _ := r.Stream("k", "stdout")
	want := StreamReport{Key: "k", Stream: "stdout", Src: "a", Expected: 20, Received: 26, Unique: 20,
		Duplicates: 1, Missing: 2, MissingSeqs: []int{4, 7}, Unexpected: 2, Corrupt: 3, Misrouted: 2, ExpectEmpty: -1}
	s.Samples = nil
	if s.String() != want.String() || s.Src != want.Src || s.ExpectEmpty != -1 {
		t.Fatalf("got  %s\nwant %s", s, want)
	}
	err := r.Err()
	if err == nil {
		t.Fatal("Err = nil")
	}
	for _, w := range []string{"k/stdout: 2 missing (first [4 7]); 1 duplicates; 2 seqs above 20; 3 corrupt; 2 misrouted; samples: corrupt:",
		"other/stderr: 1 lines received, none expected"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Err lacks %q:\n%v", w, err)
		}
	}
}

func TestCheckerEmptyMismatchAndMissingStream(t *testing.T) {
	var c Checker
	c.Expect("k", "stderr", 2)
	c.ExpectEmpty("k", "stdout", 2)
	c.Add("k", "stdout", "")
	c.Add("k", "stdout", "")
	c.Add("k", "stdout", "")
	err := c.Report().Err()
	if err == nil || !strings.Contains(err.Error(), "k/stdout: 3 empty lines, want 2") ||
		!strings.Contains(err.Error(), "k/stderr: 2 missing (first [1 2])") {
		t.Fatalf("Err = %v", err)
	}
}

func TestMissingSeqsCapped(t *testing.T) {
	var c Checker
	c.Expect("k", "stdout", 1000)
	s, _ := c.Report().Stream("k", "stdout")
	if s.Missing != 1000 || len(s.MissingSeqs) != maxSamples || s.MissingSeqs[9] != 10 {
		t.Fatalf("%+v", s)
	}
}

func TestExpectAfterAdd(t *testing.T) {
	var c Checker
	for seq := 1; seq <= 130; seq++ {
		c.Add("k", "stdout", Format("a", "stdout", seq, 1, false))
	}
	c.Expect("k", "stdout", 64)
	s, _ := c.Report().Stream("k", "stdout")
	if s.Missing != 0 || s.Unexpected != 66 {
		t.Fatalf("%s", s)
	}
	c.Expect("k", "stdout", 130)
	if err := c.Report().Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed")
	}
	c.Expect("k", "stdout", 131) // expectation grows again: not done
	select {
	case <-c.Done():
		t.Fatal("Done closed with a line missing")
	default:
	}
}

func TestWaitConcurrent(t *testing.T) {
	var c Checker
	const perStream = 500
	keys := []string{"a", "b", "c", "d"}
	for _, k := range keys {
		c.Expect(k, "stdout", perStream)
		c.Expect(k, "stderr", perStream)
		c.ExpectEmpty(k, "stderr", perStream/100)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- c.Wait(context.Background()) }()

	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, k := range keys {
		for _, st := range []string{"stdout", "stderr"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for seq := 1; seq <= perStream; seq++ {
					c.Add(k, st, Format("gen-"+k, st, seq, seq%300, seq%2 == 0))
					if st == "stderr" && seq%100 == 0 {
						c.Add(k, st, "")
					}
				}
			}()
		}
	}
	select {
	case err := <-waitErr:
		t.Fatalf("Wait returned before any line: %v", err)
	default:
	}
	close(start)
	wg.Wait()
	if err := <-waitErr; err != nil {
		t.Fatal(err)
	}
	if err := c.Report().ErrInOrder(); err != nil {
		t.Fatal(err)
	}
}

func TestWaitContextEnds(t *testing.T) {
	var c Checker
	c.Expect("k", "stdout", 2)
	c.Add("k", "stdout", Format("a", "stdout", 1, 1, false))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := c.Wait(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "k/stdout: expected 2 received 1") {
		t.Fatalf("Wait = %v", err)
	}
}

func TestWaitNothingExpected(t *testing.T) {
	var c Checker
	if err := c.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Add("k", "stdout", Format("a", "stdout", 1, 1, false)) // received but not expected: no wait
	if err := c.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkAdd(b *testing.B) {
	var c Checker
	lines := make([]string, 1000)
	for i := range lines {
		lines[i] = Format("bench", "stdout", i+1, 200, false)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c.Add("k", "stdout", lines[i%len(lines)])
	}
}
