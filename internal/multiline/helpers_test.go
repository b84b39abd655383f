package multiline

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
)

// step is one input line of a fixture, and whether it starts a record.
type step struct {
	stream decode.Stream
	text   string
	starts bool
}

// readFixture parses a testdata file: "<o|e><.|+> text", "\t" for a tab,
// "#" comments.
func readFixture(t testing.TB, name string) []step {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []step
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		s := sc.Text()
		if strings.HasPrefix(s, "#") || s == "" {
			continue
		}
		if len(s) < 2 || !strings.Contains("oe", s[:1]) || !strings.Contains(".+", s[1:2]) || len(s) > 2 && s[2] != ' ' {
			t.Fatalf("%s:%d: bad line %q", name, n, s)
		}
		st := step{stream: decode.Stdout, starts: s[1] == '.'}
		if s[0] == 'e' {
			st.stream = decode.Stderr
		}
		if len(s) > 3 {
			st.text = strings.ReplaceAll(s[3:], `\t`, "\t")
		}
		steps = append(steps, st)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return steps
}

// rec is a Record with its body copied, for comparing.
type rec struct {
	TS        int64
	Stream    decode.Stream
	Body      string
	Lines     int
	Parts     int
	Truncated bool
}

func (r rec) String() string {
	return fmt.Sprintf("{ts=%d %v lines=%d parts=%d trunc=%v %q}", r.TS, r.Stream, r.Lines, r.Parts, r.Truncated, r.Body)
}

func copyRecs(dst []rec, rs []Record) []rec {
	for _, r := range rs {
		dst = append(dst, rec{r.Timestamp, r.Stream, string(r.Body), r.Lines, r.Parts, r.Truncated})
	}
	return dst
}

// tsOf stamps the i-th line of a fixture: 1 ms apart from a fixed start.
func tsOf(i int) int64 {
	return time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC).UnixNano() + int64(i)*1e6
}

// lineOf makes the i-th input line; the body is a fresh copy that the test
// overwrites after Add, so records that keep referring to it show up.
func lineOf(i int, s step) line.Line {
	return line.Line{Timestamp: tsOf(i), Stream: s.stream, Body: []byte(s.text), Parts: 1}
}

// want derives the records a fixture marks, per stream.
func want(steps []step) map[decode.Stream][]rec {
	out := map[decode.Stream][]rec{}
	for i, s := range steps {
		rs := out[s.stream]
		if s.starts || len(rs) == 0 {
			out[s.stream] = append(rs, rec{TS: tsOf(i), Stream: s.stream, Body: s.text, Lines: 1, Parts: 1})
			continue
		}
		r := &rs[len(rs)-1]
		r.Body += "\n" + s.text
		r.Lines++
		r.Parts++
	}
	return out
}

// run feeds steps to one Grouper per stream and flushes both at the end.
func run(t *testing.T, r *Rules, steps []step) map[decode.Stream][]rec {
	t.Helper()
	gs := map[decode.Stream]*Grouper{decode.Stdout: r.NewGrouper(), decode.Stderr: r.NewGrouper()}
	out := map[decode.Stream][]rec{}
	for i, s := range steps {
		l := lineOf(i, s)
		out[s.stream] = copyRecs(out[s.stream], gs[s.stream].Add(l))
		clear(l.Body) // the caller's buffer is reused after Add
	}
	for s, g := range gs {
		out[s] = copyRecs(out[s], g.Flush())
		if g.Pending() {
			t.Fatalf("%v pending after Flush", s)
		}
	}
	return out
}

func mustCompile(t testing.TB, c Config) *Rules {
	t.Helper()
	r, err := c.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func compareRecs(t *testing.T, name string, got, want []rec) {
	t.Helper()
	for i := 0; i < max(len(got), len(want)); i++ {
		switch {
		case i >= len(got):
			t.Errorf("%s: record %d missing, want %v", name, i, want[i])
		case i >= len(want):
			t.Errorf("%s: extra record %d: %v", name, i, got[i])
		case got[i] != want[i]:
			t.Errorf("%s: record %d:\n got %v\nwant %v", name, i, got[i], want[i])
		}
	}
}

// breaks reports whether l cannot continue g's pending group, so that
// Add(l) would first emit it: Flush then Add(l) must give the same records
// as Add(l). The property behind flushing a stale group before a line.
func breaks(g *Grouper, l line.Line) bool {
	if g.lines == 0 {
		return false
	}
	v, _ := g.judge(l)
	return v == reject
}
