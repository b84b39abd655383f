package receiver

// EOF mid-line, against the fake daemon: an unfinished line at stop is
// emitted once and not again after a restart, read the same from history as
// live, a stream cut inside a frame resumes exactly, and a TTY prompt left
// at the end of a run stays a record of its own.

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

func TestFakeLeftoverAtStopIsEmittedOnceAndNotAgainAfterRestart(t *testing.T) {
	tests := []struct {
		name  string
		parts map[int][]string // stream -> parts of the unfinished line
		// reopen makes the stream rotate between the parts and the stop.
		reopen bool
	}{
		{name: "one part", parts: map[int][]string{fakedocker.Stdout: {"no newline"}}},
		{name: "two parts", parts: map[int][]string{fakedocker.Stdout: {pattern("l", fakedocker.DockerSplitSize), "rest"}}},
		{name: "both streams", parts: map[int][]string{fakedocker.Stdout: {"out left"}, fakedocker.Stderr: {pattern("m", fakedocker.DockerSplitSize), "err left"}}},
		{name: "reopened before the stop", parts: map[int][]string{fakedocker.Stdout: {pattern("n", fakedocker.DockerSplitSize), "rest"}, fakedocker.Stderr: {"err left"}}, reopen: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedocker.New(t)
			reqs := watchRequests(d)
			id := running(d, fakedocker.Container{Name: "leftover", Image: "left:1"})
			cfg := fakeCfg(d)
			cfg.RotationInterval = minRotationInterval
			sink := &fakeSink{}
			startReceiver(t, cfg, sink, nil)

			var wants []want
			ts := d.WriteLines(id, fakedocker.Stdout, "first")[0]
			wants = append(wants, want{stream: "stdout", body: "first", ts: ts})
			sink.waitCount(t, id, 1)

			lt := time.Now()
			var es []fakedocker.Entry
			for _, s := range []int{fakedocker.Stdout, fakedocker.Stderr} {
				parts := tc.parts[s]
				if parts == nil {
					continue
				}
				for _, p := range parts {
					es = append(es, fakedocker.Entry{Time: lt, Stream: s, Text: []byte(p), Partial: true})
				}
				wants = append(wants, want{stream: fakedocker.StreamName(s), body: strings.Join(parts, ""), ts: lt})
			}
			d.WriteEntries(id, es...)
			if tc.reopen {
				reqs.waitRotation(t, id)
				reqs.waitRotation(t, id)
			}
			d.Stop(id)
			sink.waitCount(t, id, len(wants))

			d.Start(id)
			for _, b := range []string{"second", "third"} {
				ts := d.WriteLines(id, fakedocker.Stdout, b)[0]
				wants = append(wants, want{stream: "stdout", body: b, ts: ts})
			}
			sink.waitBody(t, id, "third")
			// A rotation resumes after the leftover, not before it.
			reqs.waitRotation(t, id)
			ts = d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
			wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})
			got := sink.waitBody(t, id, "barrier")
			checkRecords(t, got, wants)
			checkResource(t, got, id, "leftover", "left:1")
		})
	}
}

// TestFakeLeftoverReadFromHistoryIsTheSameRecordAsReadLive reads, from the
// beginning, a log where a run ended in the middle of a line and the next
// run wrote more: the leftover is one record of its own, not glued to the
// next run's line, and the same record a live follower emits at the stop
// (TestFakeLeftoverAtStop...): no docker.log.truncated, which means "longer
// than max_log_size" or "Docker rotated its file mid-line" (README).
func TestFakeLeftoverReadFromHistoryIsTheSameRecordAsReadLive(t *testing.T) {
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "history", Image: "hist:1"})
	var wants []want
	ts := d.WriteLines(id, fakedocker.Stdout, "run 1")[0]
	wants = append(wants, want{stream: "stdout", body: "run 1", ts: ts})
	lt := time.Now()
	d.WriteEntries(id,
		fakedocker.Entry{Time: lt, Stream: fakedocker.Stdout, Text: []byte("left "), Partial: true},
		fakedocker.Entry{Time: lt, Stream: fakedocker.Stdout, Text: []byte("over"), Partial: true})
	wants = append(wants, want{stream: "stdout", body: "left over", ts: lt})
	d.Stop(id)
	d.Start(id)
	ts = d.WriteLines(id, fakedocker.Stdout, "run 2")[0]
	wants = append(wants, want{stream: "stdout", body: "run 2", ts: ts})

	cfg := fakeCfg(d)
	cfg.RotationInterval = minRotationInterval
	reqs := watchRequests(d)
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, nil)
	sink.waitBody(t, id, "run 2")
	reqs.waitRotation(t, id)
	ts = d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
	wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})
	got := sink.waitBody(t, id, "barrier")
	checkRecords(t, got, wants)
}

// TestFakeStreamCutMidFrameResumesExactly cuts the first follow streams in
// the middle of frames; each reopen resumes exactly where the consumer
// stopped.
func TestFakeStreamCutMidFrameResumesExactly(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			reqs := watchRequests(d)
			const name = "cut"
			id := running(d, fakedocker.Container{Name: name, Image: "cut:1"})
			g := newRotGen(name)
			es, _ := g.chunk(400)
			d.WriteEntries(id, es...)
			var opens sync.Mutex
			n := 0
			d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
				if req.Query.Get("follow") != "1" {
					return false
				}
				opens.Lock()
				n++
				k := n
				opens.Unlock()
				if k <= 3 {
					w.CutAfter(k * 20011) // inside a frame, some inside a split line
					return true
				}
				return false
			})
			sink := &fakeSink{}
			tt, _ := startReceiver(t, fakeCfg(d), sink, nil)
			reqs.waitCount(t, "follow", 4, followLogs(id))
			es, _ = g.chunk(100)
			d.WriteEntries(id, es...)
			g.expect(&sink.Checker)
			waitChecker(t, &sink.Checker)
			// A last line after everything: a late duplicate shows before it.
			d.WriteEntries(id, g.line(fakedocker.Stdout, 10, g.clock.Add(time.Millisecond))...)
			g.expect(&sink.Checker)
			waitChecker(t, &sink.Checker)
			checkGenerated(t, sink, g, id, "cut:1")
			if e := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "read"); e < 3 {
				t.Errorf("stream_errors{error.type=read} = %d, want >= 3", e)
			}
			if gaps := counter(t, tt, "dockerlogsrotating_cursor_gaps", "", ""); gaps != 0 {
				t.Errorf("cursor_gaps = %d", gaps)
			}
		})
	}
}

// TestFakeTTYRunEndingMidLineThenStartedAgain: a TTY container's run ends
// with an unfinished line (a prompt: Docker stores it as a partial message
// and the raw stream puts the next run's message right behind it), then the
// container starts again. The prompt and the next run's first line arrive
// intact, as separate records, and no gap is reported.
func TestFakeTTYRunEndingMidLineThenStartedAgain(t *testing.T) {
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "tty-prompt", Image: "t:1", TTY: true})
	sink := &fakeSink{}
	cfg := fakeCfg(d)
	tt, _ := startReceiver(t, cfg, sink, nil)

	d.WriteLines(id, fakedocker.Stdout, "first run")
	d.Write(id, fakedocker.Entry{Stream: fakedocker.Stdout, Text: []byte("prompt> "), Partial: true})
	d.Stop(id)
	sink.waitBody(t, id, "prompt> ")
	d.Start(id)
	d.WriteLines(id, fakedocker.Stdout, "second run")
	recs := sink.waitBody(t, id, "second run")

	var bodies []string
	for _, r := range sink.of(id) {
		bodies = append(bodies, r.Body)
	}
	if want := []string{"first run", "prompt> ", "second run"}; !slices.Equal(bodies, want) {
		t.Fatalf("records %q, want %q (%d records when the last arrived)", bodies, want, len(recs))
	}
	if g := counter(t, tt, "dockerlogsrotating_cursor_gaps", "", ""); g != 0 {
		t.Fatalf("%d gaps reported", g)
	}
}
