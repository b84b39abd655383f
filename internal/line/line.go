// Package line joins the parts of log lines that Docker split into several
// frames (lines over 16 KiB) back into whole lines, per stream, with a size cap.
package line

import (
	"unicode/utf8"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
)

// DefaultMaxSize is used when Assembler.MaxSize <= 0.
const DefaultMaxSize = 1 << 20

// Line is one log line, possibly merged from several frames.
type Line struct {
	Timestamp int64 // of the first part
	Stream    decode.Stream
	// Body is valid until the next Add/Flush call or the next decode
	// Reader.Next: it aliases the frame's payload (single-frame lines) or the
	// Assembler's per-stream buffer (merged lines), so that nothing is copied
	// or allocated per line.
	Body      []byte
	Truncated bool // longer than MaxSize: Body holds the first MaxSize bytes (cut on a UTF-8 boundary)
	Parts     int  // frames merged into this line
}

// Assembler merges the parts of split lines. Stdout and stderr are assembled
// independently since their parts may interleave; any stream other than
// decode.Stderr shares stdout's state. The zero value is ready to use; it is
// not safe for concurrent use.
type Assembler struct {
	// MaxSize caps a line's body in bytes (<= 0 means DefaultMaxSize). A longer
	// line is emitted as soon as it exceeds MaxSize, as Truncated, and its
	// remaining parts are dropped. No more than MaxSize bytes are buffered per stream.
	MaxSize int
	// TrimCR strips one trailing '\r' from completed lines (TTY "\r\n" endings).
	TrimCR bool

	st [2]state
}

// state is one stream's unfinished line.
type state struct {
	buf        []byte // bytes of the unfinished line; reused across lines
	ts         int64  // timestamp of its first part
	parts      int    // frames held; 0 = no unfinished line
	discarding bool   // dropping the remaining parts of a truncated line
}

func (a *Assembler) state(s decode.Stream) *state {
	// Constant indexes: a variable one costs a multiply on every frame.
	if s.Index() == 1 {
		return &a.st[1]
	}
	return &a.st[0]
}

func (a *Assembler) maxSize() int {
	if a.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return a.MaxSize
}

// Add takes the next frame of f.Stream and returns a Line when that frame
// completes one (or makes it exceed MaxSize).
func (a *Assembler) Add(f decode.Frame) (Line, bool) {
	st := a.state(f.Stream)
	if st.discarding {
		st.discarding = f.Partial // the final part ends the dropped line
		return Line{}, false
	}
	limit := a.maxSize()
	p := f.Payload
	if st.parts == 0 {
		if !f.Partial {
			p = a.trimCR(p)
		}
		if len(p) > limit {
			st.discarding = f.Partial
			st.ts = f.Timestamp
			return Line{Timestamp: f.Timestamp, Stream: f.Stream, Body: cut(p[:limit], p[limit:]), Truncated: true, Parts: 1}, true
		}
		if !f.Partial {
			// Single-frame line: zero-copy.
			return Line{Timestamp: f.Timestamp, Stream: f.Stream, Body: p, Parts: 1}, true
		}
		st.ts = f.Timestamp
		st.parts = 1
		st.buf = appendCapped(st.buf[:0], p, limit)
		return Line{}, false
	}

	st.parts++
	if !f.Partial {
		// A trailing '\r' that TrimCR removes does not count against MaxSize.
		p = a.trimCR(p)
	}
	if room := limit - len(st.buf); len(p) > room {
		st.buf = appendCapped(st.buf, p[:room], limit)
		l := Line{Timestamp: st.ts, Stream: f.Stream, Body: cut(st.buf, p[room:]), Truncated: true, Parts: st.parts}
		st.parts = 0
		st.discarding = f.Partial
		return l, true
	}
	st.buf = appendCapped(st.buf, p, limit)
	if f.Partial {
		return Line{}, false
	}
	body := st.buf
	if len(f.Payload) == 0 {
		// A "\n"-only final part: the '\r' may end the previous part.
		body = a.trimCR(body)
	}
	l := Line{Timestamp: st.ts, Stream: f.Stream, Body: body, Parts: st.parts}
	st.parts = 0
	return l, true
}

// Orphan returns the unfinished line of f's stream when f cannot continue
// it, and forgets it: the parts of one line share the first part's
// timestamp (json-file and local drivers), so a frame with another timestamp
// means the line's end was lost (Docker rotated its file while the line was
// being read, or a run ended mid-line and the next run's lines follow in
// the history). The line is returned as it is, like Flush does at the end of
// a run. A line being discarded is forgotten likewise. Call it before
// Add, and only when ContinuationsShareTimestamp holds for the log driver.
func (a *Assembler) Orphan(f decode.Frame) (Line, bool) {
	st := a.state(f.Stream)
	if f.BadTimestamp || f.Timestamp == st.ts {
		return Line{}, false
	}
	if st.discarding {
		st.discarding = false
		return Line{}, false
	}
	if st.parts == 0 {
		return Line{}, false
	}
	l := Line{Timestamp: st.ts, Stream: f.Stream, Body: st.buf, Parts: st.parts}
	st.parts = 0
	return l, true
}

// ContinuationsShareTimestamp reports whether a log driver stamps every part
// of a split line with the first part's time. journald stamps each part with
// its own receive time.
func ContinuationsShareTimestamp(driver string) bool {
	return driver != "journald"
}

// Flush returns the unfinished line of stream s, if any, and forgets it; use
// it when the stream ended (Docker's leftover of an exited container). A line
// being discarded is forgotten without a Line. TrimCR does not apply.
func (a *Assembler) Flush(s decode.Stream) (Line, bool) {
	st := a.state(s)
	st.discarding = false
	if st.parts == 0 {
		return Line{}, false
	}
	l := Line{Timestamp: st.ts, Stream: s, Body: st.buf, Parts: st.parts}
	st.parts = 0
	return l, true
}

// Pending reports whether any stream holds an unfinished line (not counting
// lines being discarded).
func (a *Assembler) Pending() bool {
	return a.st[0].parts > 0 || a.st[1].parts > 0
}

// Discarding reports whether stream s is dropping the rest of a truncated
// line, and that line's timestamp.
func (a *Assembler) Discarding(s decode.Stream) (bool, int64) {
	st := a.state(s)
	return st.discarding, st.ts
}

// SetDiscarding sets whether stream s drops frames up to and including the
// next final part of the line stamped ts (to resume a stream in the middle
// of a truncated line). Setting it drops the stream's unfinished line.
func (a *Assembler) SetDiscarding(s decode.Stream, v bool, ts int64) {
	st := a.state(s)
	st.discarding = v
	if v {
		st.parts = 0
		st.buf = st.buf[:0]
		st.ts = ts
	}
}

// Shrink gives back the buffers of streams with no unfinished line that a
// long line grew beyond keep bytes, so a quiet container does not hold the
// memory of its longest line.
func (a *Assembler) Shrink(keep int) {
	for i := range a.st {
		if a.st[i].parts == 0 && cap(a.st[i].buf) > keep {
			a.st[i].buf = nil
		}
	}
}

// Reset forgets all unfinished lines and discarding states; buffers are kept.
func (a *Assembler) Reset() {
	for i := range a.st {
		a.st[i] = state{buf: a.st[i].buf[:0]}
	}
}

func (a *Assembler) trimCR(b []byte) []byte {
	if a.TrimCR && len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// appendCapped appends p to buf, growing it to at most limit bytes of capacity
// so that a stream never holds more than MaxSize (len(buf)+len(p) <= limit).
func appendCapped(buf, p []byte, limit int) []byte {
	if n := len(buf) + len(p); n > cap(buf) {
		nb := make([]byte, len(buf), min(max(2*cap(buf), n, 512), limit))
		copy(nb, buf)
		buf = nb
	}
	return append(buf, p...)
}

// cut returns b without a trailing incomplete UTF-8 sequence (at most 3 bytes)
// when that sequence continues validly in rest, the bytes that follow b. When
// rest ends before the sequence does, a valid beginning counts as valid.
func cut(b, rest []byte) []byte {
	for k := 1; k <= 3 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < utf8.RuneSelf {
			return b // ASCII: b ends on a boundary
		}
		if !utf8.RuneStart(c) {
			continue // continuation byte
		}
		var seq [utf8.UTFMax]byte
		n := copy(seq[:], b[len(b)-k:])
		n += copy(seq[n:], rest)
		if !utf8.FullRune(seq[:n]) {
			return b[:len(b)-k] // a valid beginning, cut short by the end of the data
		}
		if _, size := utf8.DecodeRune(seq[:n]); size > k {
			return b[:len(b)-k] // a valid sequence crossing the cut
		}
		return b
	}
	return b
}
