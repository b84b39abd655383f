package stacktraces

import (
	"slices"
	"strings"
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/multiline"
)

// group feeds lines 1 ms apart to a fresh Grouper of cfg, flushes at the
// end, and returns the records' bodies and line counts.
func group(t *testing.T, cfg multiline.Config, lines []string) (bodies []string, counts []int) {
	t.Helper()
	r, err := cfg.Compile()
	if err != nil {
		t.Fatal(err)
	}
	g := r.NewGrouper()
	take := func(rs []multiline.Record) {
		for _, r := range rs {
			bodies = append(bodies, string(r.Body))
			counts = append(counts, r.Lines)
		}
	}
	for i, s := range lines {
		take(g.Add(line.Line{Timestamp: int64(i+1) * 1e6, Stream: decode.Stdout, Body: []byte(s), Parts: 1}))
	}
	take(g.Flush())
	return bodies, counts
}

func TestSixLanguagesTwiceEach(t *testing.T) {
	langs := map[string]int{}
	for _, tr := range All() {
		langs[tr.Lang()]++
		if len(tr.Lines) < 3 {
			t.Errorf("%s: %d lines", tr.Name, len(tr.Lines))
		}
	}
	want := map[string]int{"java": 2, "python": 2, "go": 2, "node": 2, "ruby": 2, "dotnet": 2}
	if len(langs) != len(want) {
		t.Fatalf("languages %v, want %v", langs, want)
	}
	for l, n := range want {
		if langs[l] != n {
			t.Errorf("%s: %d traces, want %d", l, langs[l], n)
		}
	}
}

// TestAutoGroupsEachTraceAlone: auto mode makes one record of each trace.
func TestAutoGroupsEachTraceAlone(t *testing.T) {
	for _, tr := range All() {
		bodies, _ := group(t, multiline.Config{Mode: multiline.ModeAuto}, tr.Lines)
		if len(bodies) != 1 || bodies[0] != tr.Text() {
			t.Errorf("%s: %d records %q", tr.Name, len(bodies), bodies)
		}
	}
}

// TestAutoGroupsPlans: auto mode makes exactly the plan's records of each
// stream's lines, so the real-engine tests may expect them.
func TestAutoGroupsPlans(t *testing.T) {
	for _, stream := range []string{"stdout", "stderr"} {
		plan := Plan("src-1", stream, Options{Rounds: 2, LineSize: 40})
		if plan[len(plan)-1].Trace == "" {
			t.Fatalf("%s: the plan ends with an ordinary line", stream)
		}
		bodies, counts := group(t, multiline.Config{Mode: multiline.ModeAuto}, Lines(plan))
		var want []string
		for _, r := range plan {
			want = append(want, r.Text())
		}
		if !slices.Equal(bodies, want) {
			t.Fatalf("%s: %d records, want %d:\n%q", stream, len(bodies), len(want), bodies)
		}
		if n := len(Lines(plan)); sum(counts) != n {
			t.Fatalf("%s: records count %d lines, the plan has %d", stream, sum(counts), n)
		}
	}
	if a, b := Plan("s", "stdout", Options{Rounds: 1}), Plan("s", "stderr", Options{Rounds: 1}); a[1].Trace == b[1].Trace {
		t.Fatalf("both streams start with %s", a[1].Trace)
	}
	if p := Plan("s", "stdout", Options{}); len(p) != 1 || p[0].Trace != "" {
		t.Fatalf("empty plan: %+v", p)
	}
}

// TestDeepSplitsAtMaxLines: a 1025-line trace is split at the default
// max_lines into 1000 and 25 lines, the second part a group of its own.
func TestDeepSplitsAtMaxLines(t *testing.T) {
	d := Deep(1024)
	bodies, counts := group(t, multiline.Config{Mode: multiline.ModeAuto}, d.Lines)
	if !slices.Equal(counts, []int{1000, 25}) {
		t.Fatalf("records of %v lines", counts)
	}
	if strings.Join(bodies, "\n") != d.Text() {
		t.Fatal("the parts do not join to the trace")
	}
}

func sum(v []int) int {
	n := 0
	for _, x := range v {
		n += x
	}
	return n
}
