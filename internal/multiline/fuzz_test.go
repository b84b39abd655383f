package multiline

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
)

// fuzzLines are lines that reach the trace phases; fuzz ops pick them or
// take raw bytes from the input.
var fuzzLines = []string{
	"", "ordinary", "java.lang.IllegalStateException: x", "\tat A.b(A.java:1)", "Caused by: java.io.IOException: y",
	"\t... 3 more", "Traceback (most recent call last):", `  File "a.py", line 1, in f`, "ValueError: v",
	"During handling of the above exception, another exception occurred:", "panic: p", "goroutine 1 [running]:",
	"main.main()", "\t/a.go:1 +0x1", "exit status 2", "/app/x.js:3", "    ^", "Node.js v22.1.0",
	"    at f (/app/x.js:3:9) {", "  code: 'E'", "}", "app.rb:3:in 'm': msg (RuntimeError)", "\tfrom app.rb:7:in '<main>'",
	"Unhandled exception. System.Exception: e", " ---> System.Exception: i", "   --- End of inner exception stack trace ---",
	"S start", "end;", "€€€€", "  indented",
}

// FuzzGrouper drives Groupers with ops decoded from data and checks: no
// panic; every input line in exactly one record, in order; a record's body
// is its lines joined with "\n" (a prefix of that, at most MaxBytes, when
// Truncated), so output bytes never exceed input bytes plus separators;
// breaks+Flush+Add equals Add; and a Grouper restarted from the first
// pending line emits what the original does from there on.
//
// Each op is a byte c: c&3 == 3 flushes (or, with c&4, jumps the clock past
// the flush timeout); else c>>2 picks a line from fuzzLines, or beyond that
// takes the next c>>2-len(fuzzLines) raw bytes; c&3 == 2 adds through breaks.
func FuzzGrouper(f *testing.F) {
	f.Add([]byte("\x08\x0c\x10\x03\x18\x1c\x20\x24\x00\x28\x2c"), uint8(2), uint8(0), uint8(0), uint8(3))
	f.Add([]byte("\x28\x30\x36\x3c\x02\x44\x3d\x48\x4c\x50\x07\x54"), uint8(2), uint8(3), uint8(20), uint8(5))
	f.Add([]byte("\x68\x6c\x00\x68\x70\x72\x7c\x7f\xff\x61\x62"), uint8(0), uint8(0), uint8(8), uint8(1))
	f.Add([]byte("\x78\x6e\x7a\x78\x03\x74\x75"), uint8(1), uint8(2), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, modeSel, maxLines, maxBytes, cut uint8) {
		c := Config{MaxLines: int(maxLines % 16), MaxBytes: int(maxBytes)}
		switch modeSel % 3 {
		case 0:
			c.LineStartPattern = `^S`
		case 1:
			c.LineEndPattern = `;$`
		default:
			c.Mode = ModeAuto
		}
		r := mustCompile(t, c)
		a, b := r.NewGrouper(), r.NewGrouper() // a: Add only; b: breaks, Flush, Add
		var restarted *Grouper                 // from the first pending line at op cut
		var ins []line.Line
		var outA, outB, outR []rec
		restartFrom := -1
		ts := int64(1)
		for op := 0; len(data) > 0; op++ {
			code := data[0]
			data = data[1:]
			if op == int(cut) {
				restartFrom = len(ins) - a.PendingLines()
				restarted = r.NewGrouper()
				for _, l := range ins[restartFrom:] {
					if rs := restarted.Add(l); len(rs) > 0 {
						t.Fatalf("replaying the pending lines emitted %v", rs)
					}
				}
				if restarted.PendingLines() != a.PendingLines() {
					t.Fatalf("restarted holds %d lines, original %d", restarted.PendingLines(), a.PendingLines())
				}
			}
			if code&3 == 3 {
				if code&4 != 0 {
					ts += int64(r.FlushTimeout())
					continue
				}
				outA = copyRecs(outA, a.Flush())
				outB = copyRecs(outB, b.Flush())
				if restarted != nil {
					outR = copyRecs(outR, restarted.Flush())
				}
				continue
			}
			var body []byte
			if k := int(code >> 2); k < len(fuzzLines) {
				body = []byte(fuzzLines[k])
			} else {
				n := min(k-len(fuzzLines), len(data))
				body, data = bytes.Clone(data[:n]), data[n:]
			}
			ts += 1e6
			l := line.Line{Timestamp: ts, Stream: decode.Stderr, Body: body, Parts: 1 + int(code&1), Truncated: code == 0x81}
			ins = append(ins, l)
			outA = copyRecs(outA, a.Add(l))
			if code&3 == 2 && breaks(b, l) {
				outB = copyRecs(outB, b.Flush())
			}
			outB = copyRecs(outB, b.Add(l))
			if restarted != nil {
				outR = copyRecs(outR, restarted.Add(l))
			}
		}
		outA = copyRecs(outA, a.Flush())
		outB = copyRecs(outB, b.Flush())
		if restarted != nil {
			outR = copyRecs(outR, restarted.Flush())
		}
		if fmt.Sprint(outA) != fmt.Sprint(outB) {
			t.Fatalf("Add only:\n%v\nbreaks+Flush+Add:\n%v", outA, outB)
		}
		checkCover(t, r, ins, outA)
		if restarted != nil {
			// The original's records from the restart point on.
			skip := restartFrom
			i := 0
			for ; skip > 0; i++ {
				skip -= outA[i].Lines
			}
			if skip != 0 || fmt.Sprint(outA[i:]) != fmt.Sprint(outR) {
				t.Fatalf("restart at line %d:\n got %v\nwant %v", restartFrom, outR, outA[i:])
			}
		}
	})
}

// checkCover checks that the records hold every input line once, in order.
func checkCover(t *testing.T, r *Rules, ins []line.Line, out []rec) {
	t.Helper()
	i := 0
	inBytes, outBytes := 0, 0
	for _, rc := range out {
		if rc.Lines < 1 || i+rc.Lines > len(ins) {
			t.Fatalf("record %v: %d lines with %d inputs left", rc, rc.Lines, len(ins)-i)
		}
		group := ins[i : i+rc.Lines]
		i += rc.Lines
		var joined []byte
		parts, truncated := 0, false
		for k, l := range group {
			if k > 0 {
				joined = append(joined, '\n')
			}
			joined = append(joined, l.Body...)
			parts += l.Parts
			truncated = truncated || l.Truncated
			inBytes += len(l.Body)
		}
		inBytes += len(group) - 1
		outBytes += len(rc.Body)
		if rc.TS != group[0].Timestamp || rc.Parts != parts {
			t.Fatalf("record %v: want ts %d parts %d", rc, group[0].Timestamp, parts)
		}
		switch {
		case len(rc.Body) > r.maxBytes:
			t.Fatalf("record %v: over %d bytes", rc, r.maxBytes)
		case !rc.Truncated && (truncated || rc.Body != string(joined)):
			t.Fatalf("record %v: want body %q", rc, joined)
		case rc.Truncated && !bytes.HasPrefix(joined, []byte(rc.Body)):
			t.Fatalf("truncated record %v: not a prefix of %q", rc, joined)
		case rc.Lines > r.maxLines:
			t.Fatalf("record %v: over %d lines", rc, r.maxLines)
		}
	}
	if i != len(ins) {
		t.Fatalf("%d of %d lines in records", i, len(ins))
	}
	if outBytes > inBytes {
		t.Fatalf("%d bytes out, %d in plus separators", outBytes, inBytes)
	}
}
