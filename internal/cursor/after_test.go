package cursor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
)

// podman answers since like Podman's Docker-compatible API (4.x, 5.x): the
// since parameter is parsed as a float, every message stored strictly after
// it is sent, and the stamps sent are cut to whole seconds. In log, a msg's
// ts is the stamp Podman stored (ns).
func podman(log []msg, param string) []msg {
	var since int64 = math.MinInt64
	if param != "" {
		f, err := strconv.ParseFloat(param, 64)
		if err != nil {
			panic(err)
		}
		sec, frac := math.Modf(f)
		since = int64(sec)*1e9 + int64(frac*1e9)
	}
	var out []msg
	for _, m := range log {
		if m.ts > since {
			m.ts -= m.ts % 1e9
			out = append(out, m)
		}
	}
	return out
}

func TestSinceAfterParamAndTail(t *testing.T) {
	p := Position{Since: 1796312811_000000000, Skip: 2, MaxTimestamp: 1796312811_000000000}
	if got, want := SinceAfter.SinceParam(p), "1796312810.999999000"; got != want {
		t.Errorf("SinceParam = %q, want %q (a microsecond early)", got, want)
	}
	if got := SinceAfter.SinceParam(Position{}); got != "" {
		t.Errorf("SinceParam of the start = %q, want none", got)
	}
	if SinceAfter.TailSafe(p) || !SincePrefix.TailSafe(p) {
		t.Error("tail windows must be off on SinceAfter only")
	}
}

// podmanLog makes a random log as conmon writes it: stamps in ns that never
// decrease (one writer, several lines of one read share a stamp), lines
// split into parts stamped one by one, stdout and stderr interleaved.
func podmanLog(rng *rand.Rand) []msg {
	var log []msg
	ts := int64(1796312811_000000000) + rng.Int64N(1e9)
	open := [3]bool{}
	for i := range 40 + rng.IntN(60) {
		switch rng.IntN(5) {
		case 0: // same read
		case 1: // across a second
			ts += 1e9 - ts%1e9 + rng.Int64N(3)*1e3
		case 2: // within the margin before a second
			ts = max(ts, ts+1e9-ts%1e9-1-rng.Int64N(sinceMargin))
		default:
			ts += 10_000 + rng.Int64N(300e6)
		}
		stream := decode.Stream(1 + rng.IntN(2))
		partial := rng.IntN(4) == 0
		log = append(log, msg{ts, stream, fmt.Sprintf("m%d", i), partial})
		open[stream] = partial
	}
	for s := decode.Stdout; s <= decode.Stderr; s++ {
		if open[s] {
			ts += 1000
			log = append(log, msg{ts, s, "end", false})
		}
	}
	return log
}

// TestExactRandomSinceAfter reads random Podman logs through streams cut at
// random points, from the start and from a position in the middle of a
// second (a run's start): every line once, no gap.
func TestExactRandomSinceAfter(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 500 {
		log := podmanLog(rng)
		chunks := func(unsettled int) int { return rng.IntN(3) + rng.IntN(2)*unsettled }
		r := readAll(t, log, SinceAfter, chunks, func() int { return 1 + rng.IntN(len(log)) })
		if got, want := r.lines, wantLines(podman(log, "")); !slices.Equal(got, want) {
			t.Fatalf("iter %d\nlog %v\n got %q\nwant %q", iter, log, got, want)
		}
		if r.gaps != 0 {
			t.Fatalf("iter %d: %d gaps reported", iter, r.gaps)
		}
		// From a point between two messages, where no line is half
		// written, more than the margin and the float's error after the
		// one before.
		var cuts []int64
		open := [3]bool{}
		for i := 1; i < len(log); i++ {
			open[log[i-1].stream] = log[i-1].partial
			if gap := log[i].ts - log[i-1].ts; !open[1] && !open[2] && gap > 3*sinceMargin {
				cuts = append(cuts, log[i-1].ts+2*sinceMargin+rng.Int64N(gap-2*sinceMargin))
			}
		}
		if len(cuts) == 0 {
			continue
		}
		since := cuts[rng.IntN(len(cuts))]
		r = readFrom(t, log, SinceAfter, Position{Since: since, MaxTimestamp: since - 1}, chunks, nil)
		var rest []msg
		for _, m := range log {
			if m.ts >= since {
				rest = append(rest, m)
			}
		}
		if got, want := r.lines, wantLines(podman(rest, "")); !slices.Equal(got, want) {
			t.Fatalf("iter %d from %d\nlog %v\n got %q\nwant %q", iter, since, log, got, want)
		}
		if r.gaps != 0 {
			t.Fatalf("iter %d from %d: %d gaps reported", iter, since, r.gaps)
		}
	}
}

// TestReplaySinceAfterSkipsTheMargin: the replay of a position at second S
// drops what the margin brings from before S (stamped S-1 after the cut to
// seconds), finds the anchor, and reports a gap only when the first message
// at S or later is not the anchor.
func TestReplaySinceAfterSkipsTheMargin(t *testing.T) {
	const s = int64(1796312811_000000000)
	tr := NewTracker(SinceAfter, Position{})
	for _, text := range []string{"a", "b"} {
		tr.Observe(frameOf(s-1e9, 1, false, "old"+text))
		tr.Settle([2]Discard{})
	}
	for _, text := range []string{"a", "b"} {
		tr.Observe(frameOf(s, 1, false, text))
		tr.Settle([2]Discard{})
	}
	pos := tr.Rewind()
	if pos.Since != s || pos.Skip != 2 {
		t.Fatalf("position %+v, want since S and 2 to skip", pos)
	}
	rp := NewReplay(pos, false, Fingerprint{})
	for _, m := range []msg{{s - 1e9, 1, "oldb", false}, {s, 1, "a", false}, {s, 1, "b", false}} {
		if rp.Keep(m.frame()) {
			t.Fatalf("%v kept", m)
		}
	}
	if rp.Gap() || !rp.Done() || !rp.Keep(frameOf(s, 1, false, "c")) {
		t.Fatalf("gap %v done %v: the replay did not end at the anchor's run", rp.Gap(), rp.Done())
	}
	rp = NewReplay(pos, false, Fingerprint{})
	rp.Keep(frameOf(s-1e9, 1, false, "oldb"))
	if rp.Keep(frameOf(s, 1, false, "b")) || !rp.Gap() {
		t.Fatal("a first message at S that is not the anchor must report a gap")
	}
}
