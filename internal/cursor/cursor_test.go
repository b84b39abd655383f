package cursor

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
)

func TestModeForEngine(t *testing.T) {
	for v, want := range map[string]Mode{"20.10.24": SinceFilter, "19.03.1": SinceFilter, "23.0.0": SincePrefix, "29.1.2": SincePrefix, "": SincePrefix, "dev": SincePrefix} {
		if got := ModeForEngine(v); got != want {
			t.Errorf("ModeForEngine(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestSinceParam(t *testing.T) {
	for ns, want := range map[int64]string{0: "", 1: "0.000000001", 1764237600_000000000: "1764237600.000000000", 1764237600_123456789: "1764237600.123456789", 1764237600_000000500: "1764237600.000000500"} {
		if got := (Position{Since: ns}).SinceParam(); got != want {
			t.Errorf("SinceParam(%d) = %q, want %q", ns, got, want)
		}
	}
}

// msg is one message of a simulated container log, in file order.
type msg struct {
	ts      int64
	stream  decode.Stream
	text    string
	partial bool // a part of a split line: the line continues in the next message of the stream
}

// frame is m as the decoder hands it on.
func (m msg) frame() decode.Frame { return frameOf(m.ts, m.stream, m.partial, m.text) }

// frameOf is a message as the decoder hands it on.
func frameOf(ts int64, stream decode.Stream, partial bool, text string) decode.Frame {
	return decode.Frame{Timestamp: ts, Stream: stream, Partial: partial, Payload: []byte(text)}
}

// daemon answers since like the Engine does in the given mode; tail > 0
// first keeps only the newest tail messages, as the Engine does. SinceAfter
// is Podman (see podman).
func daemon(log []msg, mode Mode, pos Position, tail int) []msg {
	if mode == SinceAfter {
		return podman(log, mode.SinceParam(pos))
	}
	since := pos.Since
	if tail > 0 && tail < len(log) {
		log = log[len(log)-tail:]
	}
	if since <= 0 {
		return log
	}
	var out []msg
	matched := false
	for _, m := range log {
		if mode == SincePrefix && matched {
			out = append(out, m)
			continue
		}
		if m.ts < since {
			continue
		}
		matched = true
		out = append(out, m)
	}
	return out
}

// reader consumes a log like the follower does, closing each stream after a
// few new messages and resuming from the tracker's position.
type reader struct {
	mode    Mode
	tr      *Tracker
	pending [3][]string // per stream, parts of an unfinished line
	lines   []string
	gaps    int
	missed  int
	// unsettled is the most messages ever fed past the last settled point:
	// a resume reads them again before anything new.
	unsettled int
	sinceQ    int
}

// feed consumes one new message; a line it completes is emitted unless it
// is one of the first lines of its stream that the replay skips.
func (r *reader) feed(m msg, skip *[2]uint64) {
	r.tr.Observe(m.frame())
	r.sinceQ++
	r.unsettled = max(r.unsettled, r.sinceQ)
	r.pending[m.stream] = append(r.pending[m.stream], m.text)
	if !m.partial {
		line := fmt.Sprintf("%d:%s", m.stream, slices.Concat(r.pending[m.stream]))
		r.pending[m.stream] = nil
		if i := m.stream.Index(); skip[i] > 0 {
			skip[i]--
		} else {
			r.lines = append(r.lines, line)
			r.tr.LinesDone(m.stream, 1)
		}
	}
	if len(r.pending[1]) == 0 && len(r.pending[2]) == 0 {
		r.tr.Settle([2]Discard{})
		r.unsettled, r.sinceQ = 0, 0
	}
}

// readAll reads log through streams that each deliver at most chunk messages.
func readAll(t *testing.T, log []msg, mode Mode, chunks func(unsettled int) int, tails func() int) *reader {
	t.Helper()
	return readFrom(t, log, mode, Position{}, chunks, tails)
}

// readFrom is readAll from the position start.
func readFrom(t *testing.T, log []msg, mode Mode, start Position, chunks func(unsettled int) int, tails func() int) *reader {
	t.Helper()
	r := &reader{mode: mode, tr: NewTracker(mode, start)}
	pos := start
	untailed := false
	var missedAt Fingerprint
	for range 100 * (len(log) + 1) {
		tail := 0
		if tails != nil && mode.TailSafe(pos) && !untailed {
			tail = tails()
		}
		untailed = false
		sent := daemon(log, mode, pos, tail)
		rp := NewReplay(pos, tail > 0, missedAt)
		skip := pos.SkipStreamLines
		r.pending = [3][]string{}
		n := chunks(r.unsettled)
		r.sinceQ = 0
		taken := 0
		read := 0
		for _, m := range sent {
			if taken == n {
				break
			}
			read++
			if !rp.Keep(m.frame()) {
				if rp.Missed() {
					break
				}
				continue
			}
			taken++
			r.feed(m, &skip)
		}
		if rp.Gap() {
			r.gaps++
		}
		missedAt = rp.MissedAt()
		if rp.Untailed() {
			r.missed++
			untailed = true
			continue // reopen at the same position without tail
		}
		if read == len(sent) && skip == [2]uint64{} && r.pending[1] == nil && r.pending[2] == nil {
			return r
		}
		pos = r.tr.Rewind()
	}
	t.Fatal("reader did not finish")
	return nil
}

func wantLines(log []msg) []string {
	var out []string
	var pending [3][]string
	for _, m := range log {
		pending[m.stream] = append(pending[m.stream], m.text)
		if !m.partial {
			out = append(out, fmt.Sprintf("%d:%s", m.stream, slices.Concat(pending[m.stream])))
			pending[m.stream] = nil
		}
	}
	return out
}

func TestExactAcrossReopens(t *testing.T) {
	cases := map[string][]msg{
		"monotonic":            {{1, 1, "a", false}, {2, 1, "b", false}, {3, 2, "c", false}, {4, 1, "d", false}},
		"identical timestamps": {{5, 1, "a", false}, {5, 1, "b", false}, {5, 1, "c", false}, {5, 2, "d", false}, {5, 1, "e", false}, {6, 1, "f", false}},
		"identical lines":      {{5, 1, "x", false}, {5, 1, "x", false}, {5, 1, "x", false}, {7, 1, "x", false}, {7, 1, "x", false}},
		"stderr behind stdout": {{10, 1, "a", false}, {12, 1, "b", false}, {11, 2, "c", false}, {13, 1, "d", false}, {12, 2, "e", false}, {14, 1, "f", false}},
		"split lines":          {{10, 1, "aa", true}, {10, 1, "aa", true}, {10, 1, "a", false}, {11, 2, "b", false}, {12, 1, "cc", true}, {12, 1, "", false}},
		// In filter mode since moves to a-FilterWindow after a, then to
		// b-FilterWindow after b, which is exactly the timestamp of c.
		"filter window edge":   {{1e9, 1, "a", false}, {1e9 + 2*FilterWindow, 1, "b", false}, {1e9 + FilterWindow, 2, "c", false}, {1e9 + 2*FilterWindow + 1, 1, "d", false}},
		"interleaved partials": {{10, 1, "a1", true}, {11, 2, "b1", true}, {10, 1, "a2", false}, {12, 2, "c", false}, {11, 2, "b2", true}, {11, 2, "b3", false}, {13, 1, "d", false}},
	}
	for name, log := range cases {
		for _, mode := range []Mode{SincePrefix, SinceFilter} {
			for chunk := 1; chunk <= len(log)+1; chunk++ {
				t.Run(fmt.Sprintf("%s/%v/chunk%d", name, mode, chunk), func(t *testing.T) {
					r := readAll(t, log, mode, func(unsettled int) int { return chunk + unsettled }, nil)
					if got, want := r.lines, wantLines(log); !slices.Equal(got, want) {
						t.Fatalf("lines\n got %q\nwant %q", got, want)
					}
					if r.gaps != 0 {
						t.Fatalf("%d gaps reported", r.gaps)
					}
				})
			}
		}
	}
}

// TestExactRandom checks random logs with repeated timestamps, skew and
// split lines, cut at random points. Complete lines differ from each other:
// Docker stamps each line anew, so two equal to the nanosecond do not occur
// (the fixed cases above cover them without tail windows). In filter mode skew stays inside FilterWindow, the
// documented limit of Engines before 23.
func TestExactRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		var log []msg
		ts := int64(1_000_000_000)
		open := [3]bool{}
		for i := range 40 + rng.IntN(60) {
			stream := decode.Stream(1 + rng.IntN(2))
			if open[stream] {
				// parts of a split line keep the first part's timestamp
				last := log[len(log)-1]
				for j := len(log) - 1; j >= 0; j-- {
					if log[j].stream == stream {
						last = log[j]
						break
					}
				}
				partial := rng.IntN(3) == 0
				log = append(log, msg{last.ts, stream, fmt.Sprintf("p%d", i), partial})
				open[stream] = partial
				continue
			}
			switch rng.IntN(4) {
			case 0: // same timestamp as before
			case 1: // skewed behind, within the filter window
				ts += int64(rng.IntN(1000))
				stamp := ts - int64(rng.IntN(int(FilterWindow/2)))
				partial := rng.IntN(5) == 0
				log = append(log, msg{stamp, stream, fmt.Sprintf("s%d", i), partial})
				open[stream] = partial
				continue
			default:
				ts += int64(1 + rng.IntN(int(FilterWindow)))
			}
			partial := rng.IntN(5) == 0
			log = append(log, msg{ts, stream, fmt.Sprintf("l%d", i), partial})
			open[stream] = partial
		}
		// close open lines so the expected output is well defined
		for s := decode.Stdout; s <= decode.Stderr; s++ {
			if open[s] {
				log = append(log, msg{ts, s, "end", false})
			}
		}
		for _, mode := range []Mode{SincePrefix, SinceFilter} {
			// Some streams end while the replay is still rebuilding lines.
			r := readAll(t, log, mode, func(unsettled int) int { return rng.IntN(3) + rng.IntN(2)*unsettled }, nil)
			if got, want := r.lines, wantLines(log); !slices.Equal(got, want) {
				t.Fatalf("iter %d mode %v\nlog %v\n got %q\nwant %q", iter, mode, log, got, want)
			}
			// Reopens with a tail window that sometimes does not reach back
			// to the anchor.
			r = readAll(t, log, mode, func(unsettled int) int { return rng.IntN(3) + rng.IntN(2)*unsettled }, func() int { return 1 + rng.IntN(len(log)) })
			if got, want := r.lines, wantLines(log); !slices.Equal(got, want) {
				t.Fatalf("tail: iter %d mode %v\nlog %v\n got %q\nwant %q", iter, mode, log, got, want)
			}
			if r.gaps != 0 {
				t.Fatalf("tail: iter %d: %d gaps reported", iter, r.gaps)
			}
		}
	}
}

func TestReplayReportsGap(t *testing.T) {
	tr := NewTracker(SincePrefix, Position{})
	for i, s := range []string{"a", "b", "c"} {
		tr.Observe(frameOf(int64(10+i), 1, false, s))
		tr.LinesDone(1, 1)
		tr.Settle([2]Discard{})
	}
	pos := tr.Rewind()
	// Docker rotated "c" away and kept only newer lines.
	rp := NewReplay(pos, false, Fingerprint{})
	if rp.Keep(frameOf(12, 1, false, "other")) {
		t.Fatal("a message at the consumed timestamp was kept after a gap")
	}
	if !rp.Gap() {
		t.Fatal("gap not reported")
	}
	if !rp.Keep(frameOf(13, 1, false, "d")) {
		t.Fatal("a newer message was dropped")
	}
}

// TestSearchFindsThePositionFromAnEarlierSince: filter mode, a run read to
// its end (its messages stamped up to 1,000), then the clock stepped back
// and a new run stamped from 500 on. A stream opened at since 400 sends the
// old run's messages at or after 400 and then the new run's; the search
// drops the old ones (an older stderr message among them too) and keeps the
// new ones, and the searched position resumes exactly there.
func TestSearchFindsThePositionFromAnEarlierSince(t *testing.T) {
	type msg struct {
		ts     int64
		stream decode.Stream
		text   string
	}
	const ms = int64(1e6)
	old := []msg{{400 * ms, 1, "o1"}, {990 * ms, 1, "o2"}, {1000 * ms, 1, "o3"}, {960 * ms, 2, "o4-late-stderr"}}
	tr := NewTracker(SinceFilter, Position{})
	for _, m := range old {
		tr.Observe(frameOf(m.ts, m.stream, false, m.text))
		tr.LinesDone(m.stream, 1)
		tr.Settle([2]Discard{})
	}
	pos := tr.Rewind()
	if pos.Since <= 400*ms || pos.Skip == 0 {
		t.Fatalf("position %+v: want since past the first message and an anchor", pos)
	}
	fresh := []msg{{500 * ms, 1, "n1"}, {501 * ms, 2, "n2"}}
	stream := append(append([]msg{}, old...), fresh...) // since=400 sends all of them
	rp := NewSearch(pos)
	var kept []string
	for _, m := range stream {
		if rp.Keep(frameOf(m.ts, m.stream, false, m.text)) {
			kept = append(kept, m.text)
		}
	}
	if len(kept) != 2 || kept[0] != "n1" || kept[1] != "n2" {
		t.Fatalf("kept %q, want the new run's n1, n2", kept)
	}
	// Resuming from the searched position on a stream at 400 ms again:
	// the replay skips exactly what the search dropped.
	next := rp.Searched(400 * ms)
	if next.Skip != uint64(len(old)) || next.Anchor != FingerprintOf(frameOf(400*ms, 1, false, "o1")) {
		t.Fatalf("searched position %+v", next)
	}
	tr = NewTracker(SinceFilter, next)
	for _, m := range fresh {
		tr.Observe(frameOf(m.ts, m.stream, false, m.text))
		tr.LinesDone(m.stream, 1)
		tr.Settle([2]Discard{})
	}
	again := tr.Rewind()
	if again.Since != 400*ms {
		t.Fatalf("since moved to %d past the new run's messages", again.Since)
	}
	rp = NewReplay(again, false, Fingerprint{})
	kept = nil
	for _, m := range append(stream, msg{502 * ms, 1, "n3"}) {
		if rp.Keep(frameOf(m.ts, m.stream, false, m.text)) {
			kept = append(kept, m.text)
		}
	}
	if len(kept) != 1 || kept[0] != "n3" {
		t.Fatalf("after the reopen kept %q, want only n3", kept)
	}
}

func BenchmarkObservePrefix(b *testing.B) {
	payload := []byte("2026-11-27 INFO something happened in the service with id=12345 ok")
	tr := NewTracker(SincePrefix, Position{})
	b.ReportAllocs()
	for i := range b.N {
		tr.Observe(decode.Frame{Timestamp: int64(i + 1), Stream: decode.Stdout, Payload: payload})
		tr.LinesDone(1, 1)
		tr.Settle([2]Discard{})
	}
}

func BenchmarkObserveFilter(b *testing.B) {
	payload := []byte("2026-11-27 INFO something happened in the service with id=12345 ok")
	tr := NewTracker(SinceFilter, Position{})
	b.ReportAllocs()
	for i := range b.N {
		tr.Observe(decode.Frame{Timestamp: int64(i+1) * 1000, Stream: decode.Stdout, Payload: payload})
		tr.LinesDone(1, 1)
		tr.Settle([2]Discard{})
	}
}

// TestReplayLargerWindowSameStart: a tailed replay that misses reports the
// first message it got; a larger window starting at that same message holds
// the whole log, so the anchor is gone: a gap, not another miss.
func TestReplayLargerWindowSameStart(t *testing.T) {
	tr := NewTracker(SincePrefix, Position{})
	tr.Observe(frameOf(10, 1, false, "a"))
	tr.Settle([2]Discard{})
	pos := tr.Rewind()
	first := FingerprintOf(frameOf(20, 1, false, "x"))

	rp := NewReplay(pos, true, Fingerprint{})
	if rp.Keep(frameOf(20, 1, false, "x")) || !rp.Missed() || rp.MissedAt() != first {
		t.Fatalf("first window: missed=%v at %+v", rp.Missed(), rp.MissedAt())
	}
	rp = NewReplay(pos, true, first)
	if !rp.Keep(frameOf(20, 1, false, "x")) || rp.Missed() || !rp.Gap() {
		t.Fatalf("larger window from the same message: kept=false or missed=%v gap=%v", rp.Missed(), rp.Gap())
	}
	rp = NewReplay(pos, true, first)
	if rp.Keep(frameOf(15, 1, false, "y")) || !rp.Missed() {
		t.Fatal("a larger window reaching further back is another miss")
	}
}

// TestSkipCountsPerStream: lines emitted after the settled point are kept
// per stream, and a count saved by an earlier version (across streams)
// survives until the next settled point.
func TestSkipCountsPerStream(t *testing.T) {
	tr := NewTracker(SincePrefix, Position{SkipLines: 3})
	tr.Observe(frameOf(10, 1, true, "part"))
	tr.Observe(frameOf(11, 2, false, "e1"))
	tr.LinesDone(2, 1)
	tr.LinesDone(1, 2)
	p := tr.Position()
	if p.SkipLines != 3 || p.SkipStreamLines != [2]uint64{2, 1} {
		t.Fatalf("position %+v: want the restored 3 and 2 stdout, 1 stderr", p)
	}
	tr.Settle([2]Discard{})
	if p := tr.Position(); p.SkipLines != 0 || p.SkipStreamLines != [2]uint64{} {
		t.Fatalf("settled position %+v still skips lines", p)
	}
}
