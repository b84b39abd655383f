package multiline

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		c       Config
		wantErr string
	}{
		{"off", Config{}, ""},
		{"start", Config{LineStartPattern: `^\d{4}-`}, ""},
		{"end", Config{LineEndPattern: `;$`, MaxLines: 5, FlushTimeout: time.Second}, ""},
		{"auto", Config{Mode: "auto"}, ""},
		{"two", Config{LineStartPattern: "a", LineEndPattern: "b"}, "line_end_pattern: set only one"},
		{"pattern and auto", Config{LineStartPattern: "a", Mode: "auto"}, "mode: set only one"},
		{"bad mode", Config{Mode: "java"}, `mode: "java"`},
		{"bad start", Config{LineStartPattern: "("}, "line_start_pattern: error parsing regexp"},
		{"bad end", Config{LineEndPattern: "[z-a]"}, "line_end_pattern: error parsing regexp"},
		{"negative timeout", Config{Mode: "auto", FlushTimeout: -1}, "flush_timeout"},
		{"negative lines", Config{Mode: "auto", MaxLines: -1}, "max_lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.c.Compile()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Compile() = %v, want %q", err, tc.wantErr)
			}
			if err == nil && (r == nil) != !tc.c.Enabled() {
				t.Fatalf("Compile() = %v for Enabled()=%v", r, tc.c.Enabled())
			}
		})
	}
	r := mustCompile(t, Config{Mode: "auto"})
	if r.FlushTimeout() != DefaultFlushTimeout || r.maxLines != DefaultMaxLines || r.maxBytes != line.DefaultMaxSize {
		t.Fatalf("defaults: %v %d %d", r.FlushTimeout(), r.maxLines, r.maxBytes)
	}
}

// TestAutoFixture checks auto mode against traces of all six languages,
// interleaved with ordinary lines on stdout and stderr.
func TestAutoFixture(t *testing.T) {
	steps := readFixture(t, "auto.txt")
	got := run(t, mustCompile(t, Config{Mode: ModeAuto}), steps)
	w := want(steps)
	for _, s := range []decode.Stream{decode.Stdout, decode.Stderr} {
		compareRecs(t, s.String(), got[s], w[s])
	}
}

// TestStreamsIndependent checks that a stream's records do not depend on
// the other stream's lines.
func TestStreamsIndependent(t *testing.T) {
	steps := readFixture(t, "auto.txt")
	r := mustCompile(t, Config{Mode: ModeAuto})
	both := run(t, r, steps)
	for _, s := range []decode.Stream{decode.Stdout, decode.Stderr} {
		g := r.NewGrouper()
		var alone []rec
		for i, st := range steps {
			if st.stream == s {
				alone = copyRecs(alone, g.Add(lineOf(i, st)))
			}
		}
		alone = copyRecs(alone, g.Flush())
		compareRecs(t, s.String(), alone, both[s])
	}
}

func TestOrdinaryLinesPassAtOnce(t *testing.T) {
	g := mustCompile(t, Config{Mode: ModeAuto}).NewGrouper()
	for _, s := range []string{
		`{"level":"error","msg":"boom"}`, "error: retrying", "Error connecting to db", "WARN: low disk", "",
		"fail: Shop.Orders.Worker[0]", "      Order sync failed", "main.go:12: started", "    x = 1",
	} {
		body := []byte(s)
		rs := g.Add(line.Line{Timestamp: 1, Body: body, Parts: 1})
		if len(rs) != 1 || string(rs[0].Body) != s || g.Pending() {
			t.Fatalf("%q: got %d records, pending %v", s, len(rs), g.Pending())
		}
		if len(body) > 0 && &rs[0].Body[0] != &body[0] {
			t.Errorf("%q: passthrough copied the body", s)
		}
	}
	for _, s := range []string{
		"ValueError: x", `Exception in thread "main" java.lang.IllegalStateException: boom`, "java.lang.IllegalStateException: boom",
		"System.InvalidOperationException: no", "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'x'", "panic: boom",
		"fatal error: all goroutines are asleep - deadlock!", "Traceback (most recent call last):",
		"app.rb:3:in 'm': msg (RuntimeError)", "/app/x.js:10", "Unhandled exception. System.Exception: boom",
	} {
		g.Reset()
		if rs := g.Add(line.Line{Timestamp: 1, Body: []byte(s), Parts: 1}); len(rs) != 0 || !g.Pending() {
			t.Errorf("%q: got %d records, pending %v; want it held", s, len(rs), g.Pending())
		}
	}
}

func TestLineStartPattern(t *testing.T) {
	r := mustCompile(t, Config{LineStartPattern: `^\d{4}-\d{2}-\d{2} `})
	steps := []step{
		{decode.Stdout, "  orphan continuation", true},
		{decode.Stdout, "more orphan", false},
		{decode.Stdout, "2026-12-03 10:00:00 ERROR failed", true},
		{decode.Stdout, "  detail 1", false},
		{decode.Stdout, "", false},
		{decode.Stdout, "  detail 2", false},
		{decode.Stdout, "2026-12-03 10:00:01 INFO ok", true},
		{decode.Stdout, "2026-12-03 10:00:02 INFO ok", true},
		{decode.Stderr, "2026-12-03 10:00:02 stderr one", true},
		{decode.Stdout, "  tail", false},
		{decode.Stderr, "  stderr two", false},
	}
	got := run(t, r, steps)
	w := want(steps)
	compareRecs(t, "stdout", got[decode.Stdout], w[decode.Stdout])
	compareRecs(t, "stderr", got[decode.Stderr], w[decode.Stderr])
}

func TestLineEndPattern(t *testing.T) {
	r := mustCompile(t, Config{LineEndPattern: `;$`})
	steps := []step{
		{decode.Stdout, "SELECT *", true},
		{decode.Stdout, "  FROM t", false},
		{decode.Stdout, "  WHERE x = 1;", false},
		{decode.Stdout, "VACUUM;", true},
		{decode.Stdout, "unterminated", true},
	}
	got := run(t, r, steps)
	compareRecs(t, "stdout", got[decode.Stdout], want(steps)[decode.Stdout])

	// A single-line record is not copied.
	g := r.NewGrouper()
	body := []byte("VACUUM;")
	if rs := g.Add(line.Line{Body: body, Parts: 1}); len(rs) != 1 || &rs[0].Body[0] != &body[0] {
		t.Fatalf("single line record: %v", rs)
	}
}

func TestMaxLines(t *testing.T) {
	r := mustCompile(t, Config{LineStartPattern: `^START`, MaxLines: 3})
	g := r.NewGrouper()
	var got []rec
	for i, s := range []string{"START", "a", "b", "c", "d", "START", "e"} {
		got = copyRecs(got, g.Add(line.Line{Timestamp: int64(i + 1), Stream: decode.Stdout, Body: []byte(s), Parts: 1}))
	}
	got = copyRecs(got, g.Flush())
	compareRecs(t, "stdout", got, []rec{
		{1, decode.Stdout, "START\na\nb", 3, 3, false},
		{4, decode.Stdout, "c\nd", 2, 2, false},
		{6, decode.Stdout, "START\ne", 2, 2, false},
	})

	// A long Go dump is cut into pieces that stay traces.
	r = mustCompile(t, Config{Mode: ModeAuto, MaxLines: 4})
	g = r.NewGrouper()
	got = nil
	for i, s := range []string{"panic: x", "", "goroutine 1 [running]:", "main.f()", "\t/a.go:1 +0x1", "main.main()", "\t/a.go:2 +0x2", "exit status 2", "done"} {
		got = copyRecs(got, g.Add(line.Line{Timestamp: int64(i + 1), Stream: decode.Stderr, Body: []byte(s), Parts: 1}))
	}
	compareRecs(t, "stderr", got, []rec{
		{1, decode.Stderr, "panic: x\n\ngoroutine 1 [running]:\nmain.f()", 4, 4, false},
		{5, decode.Stderr, "\t/a.go:1 +0x1\nmain.main()\n\t/a.go:2 +0x2\nexit status 2", 4, 4, false},
		{9, decode.Stderr, "done", 1, 1, false},
	})
}

func TestMaxBytes(t *testing.T) {
	r := mustCompile(t, Config{LineStartPattern: `^S`, MaxBytes: 11})
	g := r.NewGrouper()
	var got []rec
	add := func(s string, truncated bool) {
		got = copyRecs(got, g.Add(line.Line{Timestamp: 7, Body: []byte(s), Parts: 2, Truncated: truncated}))
	}
	add("S1", false)
	add("abc€€", false) // "S1\nabc€" is 9 bytes; the second € would cross 11
	add("dropped", false)
	add("S2", false)
	add("x", true) // truncated by the assembler
	add("S3 is over twelve bytes", false)
	got = copyRecs(got, g.Flush())
	compareRecs(t, "", got, []rec{
		{7, 0, "S1\nabc€", 3, 6, true},
		{7, 0, "S2\nx", 2, 4, true},
		{7, 0, "S3 is over ", 1, 2, true},
	})
	for _, r := range got {
		if len(r.Body) > 11 || !utf8.ValidString(r.Body) {
			t.Errorf("body %q: over MaxBytes or invalid UTF-8", r.Body)
		}
	}
}

func TestFlushTimeout(t *testing.T) {
	r := mustCompile(t, Config{Mode: ModeAuto, FlushTimeout: 2 * time.Second})
	g := r.NewGrouper()
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	if _, ok := g.Deadline(now); ok {
		t.Fatal("deadline with nothing pending")
	}
	g.Add(line.Line{Timestamp: now.UnixNano(), Body: []byte("ValueError: x"), Parts: 1})
	if at, ok := g.Deadline(now); !ok || !at.Equal(now.Add(2*time.Second)) {
		t.Fatalf("Deadline = %v %v", at, ok)
	}
	// The caller flushes when the deadline passes.
	if rs := g.Flush(); len(rs) != 1 || string(rs[0].Body) != "ValueError: x" || g.Pending() {
		t.Fatalf("Flush = %v", rs)
	}

	// A line stamped a timeout after the group's last one does not continue
	// it, as if the group had been flushed live.
	base := now.UnixNano()
	var got []rec
	for _, l := range []line.Line{
		{Timestamp: base, Body: []byte("java.lang.RuntimeException: a")},
		{Timestamp: base + 1e9, Body: []byte("\tat A.a(A.java:1)")},
		{Timestamp: base + 3e9, Body: []byte("\tat B.b(B.java:2)")},
		{Timestamp: base + 4e9, Body: []byte("\tat C.c(C.java:3)")},
	} {
		got = copyRecs(got, g.Add(l))
	}
	got = copyRecs(got, g.Flush())
	compareRecs(t, "", got, []rec{
		{base, 0, "java.lang.RuntimeException: a\n\tat A.a(A.java:1)", 2, 0, false},
		{base + 3e9, 0, "\tat B.b(B.java:2)\n\tat C.c(C.java:3)", 2, 0, false},
	})
}

// TestBlankLinesHeldTentatively: a blank line after a trace joins it only
// when the trace goes on; else it is a record of its own.
func TestBlankLinesHeldTentatively(t *testing.T) {
	g := mustCompile(t, Config{Mode: ModeAuto}).NewGrouper()
	var got []rec
	for i, s := range []string{"panic: x", "", "", "goroutine 1 [running]:"} {
		rs := g.Add(line.Line{Timestamp: int64(i + 1), Body: []byte(s), Parts: 1})
		got = copyRecs(got, rs)
	}
	compareRecs(t, "", got, []rec{{1, 0, "panic: x", 1, 1, false}, {2, 0, "", 1, 1, false}, {3, 0, "", 1, 1, false}})
	if g.PendingLines() != 1 {
		t.Fatalf("PendingLines = %d, want 1 (the goroutine header starts a group)", g.PendingLines())
	}
}

// TestReplay restarts a Grouper at every point of the fixtures, feeding a
// new one from the first line of the pending group, as a reopened stream
// does: the records must be those of an uninterrupted run.
func TestReplay(t *testing.T) {
	for _, c := range []Config{
		{Mode: ModeAuto},
		{Mode: ModeAuto, MaxLines: 3},
		{LineStartPattern: `^\S`},
		{LineEndPattern: `\)$`, MaxLines: 4},
	} {
		r := mustCompile(t, c)
		steps := readFixture(t, "auto.txt")
		full := run(t, r, steps)
		for _, s := range []decode.Stream{decode.Stdout, decode.Stderr} {
			var lines []line.Line
			for i, st := range steps {
				if st.stream == s {
					lines = append(lines, lineOf(i, st))
				}
			}
			for k := range len(lines) + 1 {
				g := r.NewGrouper()
				var got []rec
				for _, l := range lines[:k] {
					got = copyRecs(got, g.Add(l))
				}
				g2 := r.NewGrouper() // the restart
				for _, l := range lines[k-g.PendingLines() : k] {
					if rs := g2.Add(l); len(rs) > 0 {
						t.Fatalf("%+v %v k=%d: replaying pending lines emitted %v", c, s, k, rs)
					}
				}
				if g2.PendingLines() != g.PendingLines() {
					t.Fatalf("%+v %v k=%d: replay holds %d lines, original %d", c, s, k, g2.PendingLines(), g.PendingLines())
				}
				for _, l := range lines[k:] {
					got = copyRecs(got, g2.Add(l))
				}
				got = copyRecs(got, g2.Flush())
				if t.Failed() {
					return
				}
				compareRecs(t, s.String(), got, full[s])
			}
		}
	}
}

// TestBreaks: when breaks(l), Flush then Add(l) equals Add(l).
func TestBreaks(t *testing.T) {
	r := mustCompile(t, Config{Mode: ModeAuto})
	steps := readFixture(t, "auto.txt")
	full := run(t, r, steps)
	g := r.NewGrouper()
	var got []rec
	nbreaks := 0
	for i, s := range steps {
		if s.stream != decode.Stderr {
			continue
		}
		l := lineOf(i, s)
		if breaks(g, l) {
			nbreaks++
			got = copyRecs(got, g.Flush())
			if g.Pending() {
				t.Fatal("pending after Flush")
			}
		}
		got = copyRecs(got, g.Add(l))
	}
	got = copyRecs(got, g.Flush())
	compareRecs(t, "stderr", got, full[decode.Stderr])
	if nbreaks == 0 {
		t.Fatal("Breaks never true")
	}
}
