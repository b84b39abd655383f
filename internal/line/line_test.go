package line

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
)

const (
	out = decode.Stdout
	er  = decode.Stderr
)

// fr builds a frame: final (ends a line) or partial.
func fr(s decode.Stream, ts int64, payload string) decode.Frame {
	return decode.Frame{Timestamp: ts, Stream: s, Payload: []byte(payload)}
}

func pt(s decode.Stream, ts int64, payload string) decode.Frame {
	f := fr(s, ts, payload)
	f.Partial = true
	return f
}

// step is one Add (frame set) or Flush (flush set) and the Line it must return.
type step struct {
	frame *decode.Frame
	flush decode.Stream
	want  *Line // nil: no line
}

func add(f decode.Frame, want *Line) step { return step{frame: &f, want: want} }
func flush(s decode.Stream, want *Line) step {
	return step{flush: s, want: want}
}

func ln(s decode.Stream, ts int64, body string, parts int) *Line {
	return &Line{Timestamp: ts, Stream: s, Body: []byte(body), Parts: parts}
}

func trunc(s decode.Stream, ts int64, body string, parts int) *Line {
	l := ln(s, ts, body, parts)
	l.Truncated = true
	return l
}

func TestAssembler(t *testing.T) {
	tests := []struct {
		name    string
		maxSize int
		trimCR  bool
		steps   []step
	}{
		{
			name: "single-frame lines",
			steps: []step{
				add(fr(out, 1, "hello"), ln(out, 1, "hello", 1)),
				add(fr(er, 2, "oops"), ln(er, 2, "oops", 1)),
			},
		},
		{
			name: "empty line",
			steps: []step{
				add(fr(out, 1, ""), ln(out, 1, "", 1)),
			},
		},
		{
			name: "merged line keeps the first timestamp",
			steps: []step{
				add(pt(out, 1, "aa"), nil),
				add(pt(out, 1, "bb"), nil),
				add(fr(out, 2, "cc"), ln(out, 1, "aabbcc", 3)),
				add(fr(out, 3, "next"), ln(out, 3, "next", 1)),
			},
		},
		{
			name: "newline-only final part",
			steps: []step{
				add(pt(out, 1, "aa"), nil),
				add(fr(out, 1, ""), ln(out, 1, "aa", 2)),
			},
		},
		{
			name: "stdout and stderr partials interleaved",
			steps: []step{
				add(pt(out, 1, "o1"), nil),
				add(pt(er, 2, "e1"), nil),
				add(fr(er, 3, "e2"), ln(er, 2, "e1e2", 2)),
				add(pt(out, 4, "o2"), nil),
				add(fr(out, 5, "o3"), ln(out, 1, "o1o2o3", 3)),
			},
		},
		{
			name: "bad-timestamp frames merge like others",
			steps: []step{
				add(pt(out, 0, "x"), nil),
				add(fr(out, 0, "y"), ln(out, 0, "xy", 2)),
			},
		},
		{
			name: "flush emits the exit leftover",
			steps: []step{
				flush(out, nil),
				add(pt(out, 1, "left"), nil),
				add(pt(out, 1, "over"), nil),
				flush(er, nil),
				flush(out, ln(out, 1, "leftover", 2)),
				flush(out, nil),
			},
		},
		{
			name:   "TrimCR strips one CR",
			trimCR: true,
			steps: []step{
				add(fr(out, 1, "a\r"), ln(out, 1, "a", 1)),
				add(fr(out, 1, "b\r\r"), ln(out, 1, "b\r", 1)),
				add(fr(out, 1, "\r"), ln(out, 1, "", 1)),
				add(pt(out, 2, "c\r"), nil), // CR at the end of a part, LF alone
				add(fr(out, 2, ""), ln(out, 2, "c", 2)),
				add(pt(out, 3, "d\r"), nil),
				add(fr(out, 3, "\r"), ln(out, 3, "d\r", 2)),
				add(pt(out, 4, "e\r"), nil),
				flush(out, ln(out, 4, "e\r", 1)), // a leftover is not a completed line
			},
		},
		{
			name: "without TrimCR CRs stay",
			steps: []step{
				add(fr(out, 1, "a\r"), ln(out, 1, "a\r", 1)),
			},
		},
		{
			name:    "single frame over MaxSize",
			maxSize: 5,
			steps: []step{
				add(fr(out, 1, "abcdefgh"), trunc(out, 1, "abcde", 1)),
				add(fr(out, 2, "abcde"), ln(out, 2, "abcde", 1)),
			},
		},
		{
			name:    "truncated as soon as MaxSize is exceeded, rest dropped",
			maxSize: 10,
			steps: []step{
				add(pt(out, 1, "aaaaaa"), nil),
				add(pt(er, 9, "e"), nil),
				add(pt(out, 2, "bbbbbb"), trunc(out, 1, "aaaaaabbbb", 2)),
				add(pt(out, 3, "cc"), nil),
				add(fr(er, 9, "f"), ln(er, 9, "ef", 2)),
				add(fr(out, 4, "dd"), nil),
				add(fr(out, 5, "x"), ln(out, 5, "x", 1)),
			},
		},
		{
			name:    "first part over MaxSize",
			maxSize: 4,
			steps: []step{
				add(pt(out, 1, "abcdef"), trunc(out, 1, "abcd", 1)),
				add(fr(out, 1, ""), nil),
				add(fr(out, 2, "y"), ln(out, 2, "y", 1)),
			},
		},
		{
			name:    "truncated by the final part: nothing to discard",
			maxSize: 4,
			steps: []step{
				add(pt(out, 1, "ab"), nil),
				add(fr(out, 1, "cdef"), trunc(out, 1, "abcd", 2)),
				add(fr(out, 2, "y"), ln(out, 2, "y", 1)),
			},
		},
		{
			name:    "exactly MaxSize is not truncated",
			maxSize: 4,
			steps: []step{
				add(pt(out, 1, "ab"), nil),
				add(pt(out, 1, "cd"), nil),
				add(fr(out, 1, ""), ln(out, 1, "abcd", 3)),
			},
		},
		{
			name:    "a CR that TrimCR strips does not count",
			maxSize: 3,
			trimCR:  true,
			steps: []step{
				add(fr(out, 1, "abc\r"), ln(out, 1, "abc", 1)),
				add(pt(out, 2, "ab"), nil),
				add(fr(out, 2, "c\r"), ln(out, 2, "abc", 2)),
				add(fr(out, 3, "abcd\r"), trunc(out, 3, "abc", 1)),
			},
		},
		{
			name:    "UTF-8: cut back to a rune boundary",
			maxSize: 5,
			steps: []step{
				add(fr(out, 1, "abcd€"), trunc(out, 1, "abcd", 1)),           // 1 byte of €
				add(fr(out, 1, "abc€x"), trunc(out, 1, "abc", 1)),            // 2 bytes of €
				add(fr(out, 1, "ab€xyz"), trunc(out, 1, "ab€", 1)),           // on a boundary
				add(fr(out, 1, "a😀xyz"), trunc(out, 1, "a😀", 1)),             // 4-byte rune fits
				add(fr(out, 1, "ab😀xyz"), trunc(out, 1, "ab", 1)),            // 3 of its 4 bytes
				add(fr(out, 1, "abcd\xE2xyz"), trunc(out, 1, "abcd\xE2", 1)), // invalid: kept
				add(fr(out, 1, "abcd\x82\x82"), trunc(out, 1, "abcd\x82", 1)),
			},
		},
		{
			name:    "UTF-8: cut across parts",
			maxSize: 5,
			steps: []step{
				add(pt(out, 1, "abcd"), nil),
				add(fr(out, 1, "éz"), trunc(out, 1, "abcd", 2)),
				add(pt(out, 2, "abcd\xF0\x9F"), trunc(out, 2, "abcd", 1)), // rest of the rune not seen yet
				add(fr(out, 2, "\x98\x80"), nil),
			},
		},
		{
			name:    "MaxSize smaller than a rune",
			maxSize: 2,
			steps: []step{
				add(fr(out, 1, "€"), trunc(out, 1, "", 1)),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Assembler{MaxSize: tt.maxSize, TrimCR: tt.trimCR}
			for i, st := range tt.steps {
				var got Line
				var ok bool
				what := ""
				if st.frame != nil {
					got, ok = a.Add(*st.frame)
					what = fmt.Sprintf("Add(%s %q partial=%v)", st.frame.Stream, st.frame.Payload, st.frame.Partial)
				} else {
					got, ok = a.Flush(st.flush)
					what = fmt.Sprintf("Flush(%s)", st.flush)
				}
				switch {
				case st.want == nil && ok:
					t.Fatalf("step %d %s = %s, want no line", i, what, show(got))
				case st.want != nil && !ok:
					t.Fatalf("step %d %s: no line, want %s", i, what, show(*st.want))
				case st.want != nil && !equal(got, *st.want):
					t.Fatalf("step %d %s = %s, want %s", i, what, show(got), show(*st.want))
				}
			}
		})
	}
}

func equal(a, b Line) bool {
	return a.Timestamp == b.Timestamp && a.Stream == b.Stream && bytes.Equal(a.Body, b.Body) &&
		a.Truncated == b.Truncated && a.Parts == b.Parts
}

func show(l Line) string {
	return fmt.Sprintf("{ts=%d %s %q truncated=%v parts=%d}", l.Timestamp, l.Stream, l.Body, l.Truncated, l.Parts)
}

func TestDiscardingAndPending(t *testing.T) {
	a := &Assembler{MaxSize: 4}
	check := func(step string, pending, dOut, dErr bool) {
		t.Helper()
		if a.Pending() != pending || discarding(a, out) != dOut || discarding(a, er) != dErr {
			t.Fatalf("%s: Pending=%v Discarding(stdout)=%v Discarding(stderr)=%v, want %v %v %v",
				step, a.Pending(), discarding(a, out), discarding(a, er), pending, dOut, dErr)
		}
	}
	check("new", false, false, false)
	a.Add(pt(er, 1, "ab"))
	check("stderr partial", true, false, false)
	a.Add(pt(out, 1, "abcdef"))
	check("stdout truncated", true, true, false)
	a.Add(fr(er, 1, "c"))
	check("stderr done", false, true, false)
	a.Add(fr(out, 1, "rest"))
	check("stdout discarded to the end", false, false, false)

	a.SetDiscarding(out, true, 0)
	check("SetDiscarding", false, true, false)
	if _, ok := a.Add(fr(out, 1, "end of a line begun before a reconnect")); ok {
		t.Fatal("line emitted while discarding")
	}
	check("after final part", false, false, false)

	a.Add(pt(out, 1, "ab"))
	a.SetDiscarding(out, true, 0)
	check("SetDiscarding drops the unfinished line", false, true, false)
	if _, ok := a.Flush(out); ok {
		t.Fatal("Flush of a discarded line returned a line")
	}
	check("Flush ends discarding", false, false, false)

	a.Add(pt(out, 1, "ab"))
	a.Add(pt(er, 1, "abcdef"))
	a.Reset()
	check("Reset", false, false, false)
	if l, ok := a.Add(fr(out, 2, "x")); !ok || string(l.Body) != "x" || l.Parts != 1 {
		t.Fatalf("after Reset: %s", show(l))
	}
}

func TestSingleFrameIsZeroCopy(t *testing.T) {
	var a Assembler
	f := fr(out, 1, "payload")
	l, ok := a.Add(f)
	if !ok || &l.Body[0] != &f.Payload[0] {
		t.Fatal("single-frame line body does not alias the frame payload")
	}
}

func TestBufferNeverExceedsMaxSize(t *testing.T) {
	a := &Assembler{MaxSize: 1000}
	part := strings.Repeat("p", 300)
	for range 10 {
		for range 10 {
			a.Add(pt(out, 1, part))
			if c := cap(a.st[0].buf); c > 1000 {
				t.Fatalf("stdout buffer capacity %d > MaxSize", c)
			}
		}
		a.Add(fr(out, 1, ""))
	}
}

func TestAddDoesNotAllocate(t *testing.T) {
	a := &Assembler{MaxSize: 1 << 20, TrimCR: true}
	single := fr(out, 1, strings.Repeat("s", 100)+"\r")
	p1, p2, last := pt(out, 1, a16k), pt(out, 1, a16k), fr(out, 1, "end\r")
	a.Add(p1) // warm up the buffer
	a.Add(p2)
	a.Add(last)
	n := testing.AllocsPerRun(1000, func() {
		a.Add(single)
		a.Add(p1)
		a.Add(p2)
		if l, ok := a.Add(last); !ok || len(l.Body) != 2*len(a16k)+3 {
			t.Fatalf("merged line: %v %d", ok, len(l.Body))
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}

var a16k = strings.Repeat("a", decode.DefaultPartialSize)

// End-to-end: Docker-style streams through decode and the Assembler.

const ts0 = "2024-05-06T07:08:09.123456789Z"

var ns0 = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC).UnixNano()

// dockerParts splits a line the way Docker's log copier does: 16 KiB parts,
// the last one with the '\n' (possibly "\n" alone).
func dockerParts(line string) []string {
	var parts []string
	for len(line) >= decode.DefaultPartialSize {
		parts = append(parts, line[:decode.DefaultPartialSize])
		line = line[decode.DefaultPartialSize:]
	}
	return append(parts, line+"\n")
}

func muxFrame(stream byte, payload string) []byte {
	b := make([]byte, 8, 8+len(payload))
	b[0] = stream
	binary.BigEndian.PutUint32(b[4:], uint32(len(payload)))
	return append(b, payload...)
}

// collect reads all frames, assembles them and flushes at EOF.
func collect(t *testing.T, r *decode.Reader, a *Assembler) []Line {
	t.Helper()
	var lines []Line
	keep := func(l Line) { l.Body = bytes.Clone(l.Body); lines = append(lines, l) }
	for {
		f, err := r.Next()
		if errors.Is(err, io.EOF) {
			for _, s := range []decode.Stream{out, er} {
				if l, ok := a.Flush(s); ok {
					keep(l)
				}
			}
			return lines
		}
		if err != nil {
			t.Fatal(err)
		}
		if l, ok := a.Add(f); ok {
			keep(l)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 100<<10/16) // 100 KiB
	utf := strings.Repeat("x", decode.DefaultPartialSize-1) + "€ü" + strings.Repeat("y", 10)
	exact := strings.Repeat("z", decode.DefaultPartialSize)
	lines := []struct {
		stream byte
		text   string
	}{
		{1, "short"},
		{1, strings.Repeat("k", decode.DefaultPartialSize+1)},
		{2, big},
		{1, utf},
		{1, ""},
		{2, exact}, // final part is "\n" alone
	}
	// Multiplexed: stdout and stderr parts interleave.
	var mux []byte
	var pending [3][]string
	for _, l := range lines {
		pending[l.stream] = append(pending[l.stream], dockerParts(l.text)...)
	}
	for len(pending[1])+len(pending[2]) > 0 {
		for s := byte(1); s <= 2; s++ {
			if len(pending[s]) > 0 {
				mux = append(mux, muxFrame(s, ts0+" "+pending[s][0])...)
				pending[s] = pending[s][1:]
			}
		}
	}
	mux = append(mux, muxFrame(1, ts0+" leftover without newline")...)

	got := collect(t, decode.NewMuxReader(bytes.NewReader(mux), 0), &Assembler{MaxSize: 1 << 20})
	want := map[decode.Stream][]string{}
	for _, l := range lines {
		want[decode.Stream(l.stream)] = append(want[decode.Stream(l.stream)], l.text)
	}
	want[out] = append(want[out], "leftover without newline")
	checkLines(t, "mux", got, want)

	// TTY: raw, CRLF, all stdout.
	var raw strings.Builder
	want = map[decode.Stream][]string{}
	for _, l := range lines {
		for _, p := range dockerParts(l.text + "\r") {
			raw.WriteString(ts0 + " " + p)
		}
		want[out] = append(want[out], l.text)
	}
	got = collect(t, decode.NewRawReader(strings.NewReader(raw.String()), 0), &Assembler{MaxSize: 1 << 20, TrimCR: true})
	checkLines(t, "raw", got, want)
}

func checkLines(t *testing.T, name string, got []Line, want map[decode.Stream][]string) {
	t.Helper()
	gotBy := map[decode.Stream][]string{}
	for _, l := range got {
		if l.Timestamp != ns0 || l.Truncated {
			t.Errorf("%s: line %s", name, show(l))
		}
		if wantParts := len(l.Body)/decode.DefaultPartialSize + 1; l.Parts != wantParts {
			t.Errorf("%s: %d bytes in %d parts, want %d", name, len(l.Body), l.Parts, wantParts)
		}
		gotBy[l.Stream] = append(gotBy[l.Stream], string(l.Body))
	}
	for s, w := range want {
		g := gotBy[s]
		if len(g) != len(w) {
			t.Errorf("%s %s: %d lines, want %d", name, s, len(g), len(w))
			continue
		}
		for i := range w {
			if g[i] != w[i] {
				t.Errorf("%s %s line %d: %d bytes differ from the original %d bytes", name, s, i, len(g[i]), len(w[i]))
			}
		}
	}
}

func TestCut(t *testing.T) {
	tests := []struct{ b, rest, want string }{
		{"abc", "d", "abc"},
		{"ab\xE2", "\x82\xAC", "ab"},
		{"ab\xE2\x82", "\xAC", "ab"},
		{"ab\xE2\x82\xAC", "x", "ab\xE2\x82\xAC"},
		{"ab\xE2", "xx", "ab\xE2"},     // invalid continuation: keep
		{"ab\xE2", "", "ab"},           // unknown continuation: valid so far
		{"a\xF0\x9F\x98", "\x80", "a"}, // 4-byte rune, 3 bytes back
		{"\xF0\x9F\x98\x80", "x", "\xF0\x9F\x98\x80"},
		{"ab\xED", "\xA0\x80", "ab\xED"}, // surrogate: invalid, keep
		{"\x80\x80\x80\x80", "\x80", "\x80\x80\x80\x80"},
		{"", "x", ""},
	}
	for _, tt := range tests {
		if got := string(cut([]byte(tt.b), []byte(tt.rest))); got != tt.want {
			t.Errorf("cut(%q, %q) = %q, want %q", tt.b, tt.rest, got, tt.want)
		}
	}
}

// TestShrinkGivesBackLongLineBuffers: after a long line, Shrink lets go of
// the buffer it grew, but never of a line still being assembled.
func TestShrinkGivesBackLongLineBuffers(t *testing.T) {
	var a Assembler
	big := strings.Repeat("x", 100_000)
	a.Add(pt(out, 1, big))
	if _, ok := a.Add(fr(out, 1, "end")); !ok {
		t.Fatal("the long line did not complete")
	}
	a.Add(pt(er, 2, big)) // stderr's line is still open
	a.Shrink(64 << 10)
	if c := cap(a.st[0].buf); c > 64<<10 {
		t.Errorf("stdout keeps a %d-byte buffer after its long line", c)
	}
	if l, ok := a.Add(fr(er, 2, "end")); !ok || len(l.Body) != len(big)+3 {
		t.Fatalf("stderr's open line lost its parts: %d bytes, %v", len(l.Body), ok)
	}
}
