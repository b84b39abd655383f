package receiver

// Rotation exactness, against the fake daemon: every line is delivered
// exactly once across Docker's log rotation and the receiver's reopens,
// whatever the timestamps and wherever the rotation falls.

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

func TestFakeRotationDeliversEveryLineExactlyOnce(t *testing.T) {
	tests := []struct {
		engine string
		tty    bool
	}{
		{engine: "29.1.0"},   // since skips a prefix
		{engine: "20.10.24"}, // since filters every message
		{engine: "29.1.0", tty: true},
	}
	for _, tc := range tests {
		name := tc.engine
		if tc.tty {
			name += "/tty"
		}
		t.Run(name, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(tc.engine))
			reqs := watchRequests(d)
			const name = "rotating"
			id := running(d, fakedocker.Container{Name: name, Image: "gen:1", TTY: tc.tty})
			cfg := fakeCfg(d)
			cfg.RotationInterval = minRotationInterval
			sink := &fakeSink{}
			tt, _ := startReceiver(t, cfg, sink, nil)

			// Write chunk after chunk with at most two in flight, until at
			// least 3,000 lines went out and the stream was opened 7 times.
			g := newRotGen(name)
			g.tty = tc.tty
			var sent []int
			total := 0
			for total < 3000 || reqs.count(followLogs(id)) < 7 {
				if total > 200_000 {
					t.Fatalf("wrote %d lines but saw only %d stream opens", total, reqs.count(followLogs(id)))
				}
				es, n := g.chunk(40)
				d.WriteEntries(id, es...)
				total += n
				sent = append(sent, total)
				if len(sent) > 2 {
					sink.waitCount(t, id, sent[len(sent)-3])
				}
			}
			g.expect(&sink.Checker)
			waitChecker(t, &sink.Checker)

			// One more rotation after everything arrived, then a last line per
			// stream: a replay that duplicated anything would show up before it.
			reqs.waitRotation(t, id)
			var es []fakedocker.Entry
			es = append(es, g.line(fakedocker.Stdout, 20, g.clock.Add(time.Millisecond))...)
			es = append(es, g.line(fakedocker.Stderr, 20, g.clock.Add(time.Millisecond))...)
			d.WriteEntries(id, es...)
			g.expect(&sink.Checker)
			waitChecker(t, &sink.Checker)

			checkGenerated(t, sink, g, id, "gen:1")
			rotations := counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "rotation")
			gaps := counter(t, tt, "dockerlogsrotating_cursor_gaps", "", "")
			t.Logf("%d lines, %d stream opens, %d rotations, %d duplicates skipped, %d merged, %d gaps",
				total+2, reqs.count(followLogs(id)), rotations,
				counter(t, tt, "dockerlogsrotating_duplicates_skipped", "", ""),
				counter(t, tt, "dockerlogsrotating_lines_merged", "", ""), gaps)
			if rotations < 5 {
				t.Errorf("only %d rotations; the test needs at least 5", rotations)
			}
			if gaps != 0 {
				t.Errorf("cursor_gaps = %d: a resume point was not found in a log nothing rotated away", gaps)
			}
		})
	}
}

func TestFakeRotationIdenticalTimestampsAcrossReopenDeliveredExactlyOnce(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			reqs := watchRequests(d)
			id := running(d, fakedocker.Container{Name: "same-ts", Image: "same:1"})
			cfg := fakeCfg(d)
			cfg.RotationInterval = minRotationInterval
			sink := &fakeSink{}
			startReceiver(t, cfg, sink, nil)

			ts := time.Now()
			var wants []want
			write := func(stream int, body string) {
				d.Write(id, fakedocker.Entry{Time: ts, Stream: stream, Text: []byte(body)})
				wants = append(wants, want{stream: fakedocker.StreamName(stream), body: body, ts: ts})
			}
			// k = 5 lines with one timestamp, delivered before a reopen...
			for i := 1; i <= 4; i++ {
				write(fakedocker.Stdout, fmt.Sprintf("same %d", i))
			}
			write(fakedocker.Stderr, "same err 1")
			sink.waitCount(t, id, 5)
			reqs.waitRotation(t, id)
			// ...then more with the very same timestamp after it, one of
			// them split, so the resumed stream starts inside the group.
			for i := 5; i <= 7; i++ {
				write(fakedocker.Stdout, fmt.Sprintf("same %d", i))
			}
			long := pattern("same", fakedocker.DockerSplitSize+100)
			d.WriteEntries(id, splitEntries(fakedocker.Stderr, ts, long, fakedocker.DockerSplitSize)...)
			wants = append(wants, want{stream: "stderr", body: long, ts: ts})
			sink.waitCount(t, id, 9)
			reqs.waitRotation(t, id)
			write(fakedocker.Stdout, "same 8")
			reqs.waitRotation(t, id)
			bt := d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
			wants = append(wants, want{stream: "stdout", body: "barrier", ts: bt})

			got := sink.waitBody(t, id, "barrier")
			checkRecords(t, got, wants)
			checkResource(t, got, id, "same-ts", "same:1")
		})
	}
}

// TestFakeRotationInsideALineResumesWithoutLossOrDuplicate reopens the
// stream while a split line is half read and while the rest of a truncated
// line is being dropped; the resumed stream must rebuild the one and keep
// dropping the other.
func TestFakeRotationInsideALineResumesWithoutLossOrDuplicate(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			reqs := watchRequests(d)
			id := running(d, fakedocker.Container{Name: "mid-line", Image: "mid:1"})
			cfg := fakeCfg(d)
			cfg.RotationInterval = minRotationInterval
			cfg.MaxLogSize = 40000
			sink := &fakeSink{}
			tt, _ := startReceiver(t, cfg, sink, nil)
			const part = fakedocker.DockerSplitSize
			entry := func(ts time.Time, stream int, text string, partial bool) fakedocker.Entry {
				return fakedocker.Entry{Time: ts, Stream: stream, Text: []byte(text), Partial: partial}
			}
			var wants []want

			// A stdout line of three parts, with a whole stderr line between
			// its parts and a reopen after each of its first two parts.
			tSplit := time.Now()
			p1, p2, p3 := pattern("p", part), pattern("q", part), "end of the split line"
			d.WriteEntries(id, entry(tSplit, fakedocker.Stdout, p1, true))
			tErr := tSplit.Add(time.Microsecond)
			d.WriteEntries(id, entry(tErr, fakedocker.Stderr, "stderr between parts", false))
			wants = append(wants, want{stream: "stderr", body: "stderr between parts", ts: tErr})
			sink.waitBody(t, id, "stderr between parts")
			reqs.waitRotation(t, id)
			// The same parts may be replayed: reopen once more mid-line.
			d.WriteEntries(id, entry(tSplit, fakedocker.Stdout, p2, true))
			reqs.waitRotation(t, id)
			reqs.waitRotation(t, id)
			d.WriteEntries(id, entry(tSplit, fakedocker.Stdout, p3, false))
			wants = append(wants, want{stream: "stdout", body: p1 + p2 + p3, ts: tSplit})
			sink.waitBody(t, id, p1+p2+p3)

			// A stderr line of five parts over max_log_size (40000): it is
			// emitted truncated with its third part; a reopen comes while
			// the rest is dropped.
			tBig := time.Now()
			big := pattern("big", 5*part-10)
			parts := splitEntries(fakedocker.Stderr, tBig, big, part)
			d.WriteEntries(id, parts[:3]...)
			wants = append(wants, want{stream: "stderr", body: big[:40000], ts: tBig, attrs: map[string]any{"docker.log.truncated": true}})
			sink.waitCount(t, id, len(wants))
			reqs.waitRotation(t, id)
			d.WriteEntries(id, parts[3])
			reqs.waitRotation(t, id)
			d.WriteEntries(id, parts[4])
			tAfter := tBig.Add(time.Microsecond)
			d.WriteEntries(id, entry(tAfter, fakedocker.Stderr, "stderr after the big line", false))
			wants = append(wants, want{stream: "stderr", body: "stderr after the big line", ts: tAfter})
			sink.waitBody(t, id, "stderr after the big line")

			reqs.waitRotation(t, id)
			ts := d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
			wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})
			got := sink.waitBody(t, id, "barrier")
			checkRecords(t, got, wants)
			checkResource(t, got, id, "mid-line", "mid:1")
			if n := counter(t, tt, "dockerlogsrotating_lines_truncated", "", ""); n != 1 {
				t.Errorf("lines_truncated = %d, want 1", n)
			}
			if n := counter(t, tt, "dockerlogsrotating_lines_merged", "", ""); n != 2 {
				t.Errorf("lines_merged = %d, want 2", n)
			}
		})
	}
}

// TestFakeReplayCutShortKeepsSkippingEmittedLines: stderr lines complete
// while a stdout line is still arriving in parts, so the position cannot
// move past them and a reopen must rebuild and drop them. The reopen is cut
// in the middle of that replay; the next one must still drop all of them.
func TestFakeReplayCutShortKeepsSkippingEmittedLines(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			reqs := watchRequests(d)
			id := running(d, fakedocker.Container{Name: "replay", Image: "replay:1"})
			cfg := fakeCfg(d)
			cfg.RotationInterval = minRotationInterval
			sink := &fakeSink{}
			tt, _ := startReceiver(t, cfg, sink, nil)

			base := time.Now()
			start := fakedocker.Entry{Time: base, Stream: fakedocker.Stdout, Text: []byte("start")}
			head := fakedocker.Entry{Time: base.Add(time.Microsecond), Stream: fakedocker.Stdout, Text: []byte(pattern("h", fakedocker.DockerSplitSize)), Partial: true}
			var errs []fakedocker.Entry
			for i := 1; i <= 3; i++ {
				errs = append(errs, fakedocker.Entry{Time: base.Add(time.Duration(1+i) * time.Microsecond), Stream: fakedocker.Stderr, Text: []byte(fmt.Sprintf("err %d", i))})
			}
			wants := []want{{stream: "stdout", body: "start", ts: start.Time}}
			for _, e := range errs {
				wants = append(wants, want{stream: "stderr", body: string(e.Text), ts: e.Time})
			}
			d.WriteEntries(id, start)
			sink.waitBody(t, id, "start")
			d.WriteEntries(id, append([]fakedocker.Entry{head}, errs...)...)
			sink.waitBody(t, id, "err 3")

			// Cut the next stream in the middle of "err 2": the replay has
			// rebuilt (and dropped) "err 1" only.
			cut := 5
			for _, e := range []fakedocker.Entry{start, head, errs[0]} {
				cut += 8 + len(fakedocker.FormatLine(e, true))
			}
			var mu sync.Mutex
			armed := true
			d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
				mu.Lock()
				fire := armed && req.Query.Get("follow") == "1"
				armed = armed && !fire
				mu.Unlock()
				if fire {
					w.CutAfter(cut)
				}
				return fire
			})
			errors0 := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "read")
			reqs.waitRotation(t, id) // the cut stream
			reqs.waitRotation(t, id) // the one after it
			if e := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "read"); e != errors0+1 {
				t.Errorf("stream_errors{error.type=read} went from %d to %d, want one cut", errors0, e)
			}

			tail := fakedocker.Entry{Time: head.Time, Stream: fakedocker.Stdout, Text: []byte("tail")}
			e4 := fakedocker.Entry{Time: base.Add(10 * time.Microsecond), Stream: fakedocker.Stderr, Text: []byte("err 4")}
			d.WriteEntries(id, tail, e4)
			wants = append(wants,
				want{stream: "stdout", body: string(head.Text) + "tail", ts: head.Time},
				want{stream: "stderr", body: "err 4", ts: e4.Time})
			sink.waitBody(t, id, "err 4")
			reqs.waitRotation(t, id)
			ts := d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
			wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})
			got := sink.waitBody(t, id, "barrier")
			checkRecords(t, got, wants)
		})
	}
}

// TestFakeStreamCapSharesSlotsAtRotation follows three containers through
// one stream slot: at each rotation the slot goes to the next container,
// and every line of every container arrives exactly once.
func TestFakeStreamCapSharesSlotsAtRotation(t *testing.T) {
	d := fakedocker.New(t)
	reqs := watchRequests(d)
	names := []string{"cap-a", "cap-b", "cap-c"}
	ids := make([]string, len(names))
	gens := make([]*rotGen, len(names))
	for i, n := range names {
		ids[i] = running(d, fakedocker.Container{Name: n, Image: "cap:1"})
		gens[i] = newRotGen(n)
	}
	cfg := fakeCfg(d)
	cfg.RotationInterval = minRotationInterval
	cfg.MaxConcurrentStreams = 1
	sink := &fakeSink{}
	tt, _ := startReceiver(t, cfg, sink, nil)

	// Write to every container until each has had its stream opened three
	// times (so each gave the slot away at least twice).
	for round := 0; ; round++ {
		done := true
		for i, id := range ids {
			es, _ := gens[i].chunk(20)
			d.WriteEntries(id, es...)
			if reqs.count(followLogs(id)) < 3 {
				done = false
			}
		}
		if done {
			break
		}
		if round > 100_000 {
			t.Fatal("the slot does not go round")
		}
		// Pace by delivery: wait for a container that holds the slot.
		first := gens[0].seq[0] + gens[0].seq[1]
		if round%10 == 9 {
			sink.waitCount(t, ids[0], first)
		}
	}
	for i, g := range gens {
		sink.Checker.Expect(names[i], "stdout", g.seq[0])
		sink.Checker.Expect(names[i], "stderr", g.seq[1])
	}
	waitChecker(t, &sink.Checker)
	for i, id := range ids {
		reqs.waitRotation(t, id)
		g := gens[i]
		d.WriteEntries(id, g.line(fakedocker.Stdout, 20, g.clock.Add(time.Millisecond))...)
		sink.Checker.Expect(names[i], "stdout", g.seq[0])
	}
	waitChecker(t, &sink.Checker)
	if err := sink.Checker.Report().Err(); err != nil {
		t.Fatalf("not exactly once: %v\n%s", err, sink.Checker.Report())
	}
	if _, n := histogramMax(t, tt, "dockerlogsrotating_pool_wait"); n == 0 {
		t.Error("pool_wait recorded nothing")
	}
	for i, id := range ids {
		checkResource(t, sink.of(id), id, names[i], "cap:1")
	}
}
