package multiline

import (
	"time"
	"unicode/utf8"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
)

// Record is one emitted group: the first line's Timestamp and Stream, the
// lines' bodies joined with "\n", Parts summed over the lines, and Truncated
// when a line was truncated or the joined body was cut at MaxBytes. Lines
// counts every input line in the record, including those whose bytes were
// dropped by the cut.
type Record struct {
	line.Line
	Lines int
}

// Grouper groups the lines of one stream. It is not safe for concurrent use.
//
// Byte ownership: Add reads l.Body during the call only. A record emitted
// from a single line that was never held aliases that line's Body, so it is
// valid only as long as l.Body is; every other record's Body is a buffer of
// the Grouper. Either way, records and their bodies returned by Add or Flush
// are valid until the next call of Add, Flush or Reset: consume (copy) them
// before that. The returned slice is reused likewise.
type Grouper struct {
	rules *Rules

	// The pending group; lines == 0 means none.
	lines     int
	first     line.Line // Timestamp and Stream of the first line
	lastTS    int64     // timestamp of the last line added to the group
	parts     int
	truncated bool
	full      bool        // the body was cut at maxBytes: later lines only count
	phase     phase       // auto mode: where in a trace the group is
	maybe     []line.Line // trailing blank lines that join only if a later line continues the group

	// Two buffers: a call can emit the pending group and a new group that
	// started and ended in the same call.
	bufs [2][]byte
	cur  int

	out []Record
}

// retainBytes is the largest buffer kept between groups; a larger one is
// dropped so that one huge trace does not pin its memory forever.
const retainBytes = 64 << 10

// verdict is what a line does to the pending group.
type verdict uint8

const (
	reject verdict = iota // the group ended before the line
	absorb                // the line continues the group
	maybe                 // a blank line that joins if a later line continues the group
	last                  // the line continues and ends the group
)

// Add takes the next line of the stream and returns the records it
// completes: possibly the pending group (the line does not continue it),
// then the line's own record when it cannot start or continue a group.
func (g *Grouper) Add(l line.Line) []Record {
	g.out = g.out[:0]
	if g.lines > 0 {
		v, p := g.judge(l)
		switch v {
		case absorb, last:
			g.phase = p
			g.confirmMaybe()
			g.append(l)
			if v == last || g.lines >= g.rules.maxLines {
				g.emit()
			}
			return g.out
		case maybe:
			g.phase = p
			g.maybe = append(g.maybe, line.Line{Timestamp: l.Timestamp, Stream: l.Stream, Parts: l.Parts, Truncated: l.Truncated})
			g.lastTS = l.Timestamp
			if g.lines+len(g.maybe) >= g.rules.maxLines {
				g.flush()
			}
			return g.out
		}
		g.flush()
	}
	g.begin(l)
	return g.out
}

// Flush emits the pending group (a timeout, or the stream ended), and any
// blank lines it held tentatively as records of their own.
func (g *Grouper) Flush() []Record {
	g.out = g.out[:0]
	g.flush()
	return g.out
}

// Pending reports whether lines are held. The caller must not take a
// resume point after the first of them until they are emitted.
func (g *Grouper) Pending() bool { return g.lines > 0 }

// PendingLines is how many lines are held: always the last PendingLines
// lines given to Add. After Add(l), PendingLines() == 1 means a group
// started at l.
func (g *Grouper) PendingLines() int { return g.lines + len(g.maybe) }

// Stale reports whether the pending group's last line is stamped at least
// the flush timeout before ts: a line stamped ts, of any stream, shows that
// none continued the group in time, by the daemon's clock. A reader behind
// the daemon decides so as it would have live.
func (g *Grouper) Stale(ts int64) bool {
	return g.lines > 0 && g.lastTS > 0 && ts-g.lastTS >= int64(g.rules.flushTimeout)
}

// Deadline is when the pending group is to be flushed if no line comes,
// given when the last line was added; ok is false when nothing is pending.
func (g *Grouper) Deadline(lastAdd time.Time) (at time.Time, ok bool) {
	if g.lines == 0 {
		return time.Time{}, false
	}
	return lastAdd.Add(g.rules.flushTimeout), true
}

// Reset forgets the pending group (a reopened stream replays its lines).
func (g *Grouper) Reset() {
	g.out = g.out[:0]
	g.clear()
}

// judge decides what l does to the pending group, and the auto-mode phase
// after it, without changing anything.
func (g *Grouper) judge(l line.Line) (verdict, phase) {
	// A line stamped a flush timeout after the group's last line would have
	// found the group flushed had it been read live: decide the same when
	// reading a backlog, so live and replayed reads group alike.
	if l.Timestamp > 0 && g.lastTS > 0 && l.Timestamp-g.lastTS >= int64(g.rules.flushTimeout) {
		return reject, 0
	}
	switch g.rules.mode {
	case startMode:
		if g.rules.pattern.Match(l.Body) {
			return reject, 0
		}
		return absorb, 0
	case endMode:
		if g.rules.pattern.Match(l.Body) {
			return last, 0
		}
		return absorb, 0
	}
	return next(g.phase, l.Body)
}

// begin handles a line with nothing pending, exactly as a new Grouper would.
func (g *Grouper) begin(l line.Line) {
	switch g.rules.mode {
	case endMode:
		if g.rules.pattern.Match(l.Body) {
			g.single(l)
			return
		}
	case autoMode:
		p, ok := start(l.Body)
		if !ok {
			g.single(l)
			return
		}
		g.phase = p
	}
	g.append(l)
	if g.lines >= g.rules.maxLines {
		g.emit()
	}
}

// single emits l as a record of its own, without copying it.
func (g *Grouper) single(l line.Line) {
	if len(l.Body) > g.rules.maxBytes {
		l.Body = cutUTF8(l.Body, g.rules.maxBytes)
		l.Truncated = true
	}
	// Field by field: copying l whole here costs more than the rest of
	// an ordinary line's handling (a store-forwarding stall).
	g.out = append(g.out, Record{Lines: 1})
	r := &g.out[len(g.out)-1]
	r.Timestamp, r.Stream, r.Body, r.Truncated, r.Parts = l.Timestamp, l.Stream, l.Body, l.Truncated, l.Parts
}

// append adds l to the group, joined with "\n", dropping what exceeds maxBytes.
func (g *Grouper) append(l line.Line) {
	b := g.bufs[g.cur]
	sep := 1
	if g.lines == 0 {
		if cap(b) > retainBytes {
			b = nil
		}
		b = b[:0]
		g.first = line.Line{Timestamp: l.Timestamp, Stream: l.Stream}
		sep = 0
	}
	switch room := g.rules.maxBytes - len(b); {
	case g.full: // cut already: the body stays a prefix of the joined lines
	case sep+len(l.Body) > room:
		g.truncated, g.full = true, true
		if room > sep {
			b = append(b, "\n"[:sep]...)
			b = append(b, cutUTF8(l.Body, room-sep)...)
		}
	default:
		b = append(b, "\n"[:sep]...)
		b = append(b, l.Body...)
	}
	g.bufs[g.cur] = b
	g.lines++
	g.parts += l.Parts
	g.truncated = g.truncated || l.Truncated
	g.lastTS = l.Timestamp
}

// confirmMaybe joins the tentative blank lines: a later line continued the group.
func (g *Grouper) confirmMaybe() {
	for _, m := range g.maybe {
		g.append(m)
	}
	g.maybe = g.maybe[:0]
}

// flush emits the group, then each tentative blank line on its own (as a
// new Grouper would: a blank line never starts a group).
func (g *Grouper) flush() {
	if g.lines == 0 {
		return
	}
	held := len(g.maybe)
	g.emit()
	for _, m := range g.maybe[:held] {
		g.out = append(g.out, Record{Line: m, Lines: 1})
	}
	g.maybe = g.maybe[:0]
}

// emit appends the group's record and starts the other buffer, so that the
// record stays valid while the next group fills.
func (g *Grouper) emit() {
	r := g.first
	r.Body = g.bufs[g.cur]
	r.Parts = g.parts
	r.Truncated = g.truncated
	g.out = append(g.out, Record{Line: r, Lines: g.lines})
	g.cur ^= 1
	maybe := g.maybe
	g.clear()
	g.maybe = maybe // flush emits them after the group
}

func (g *Grouper) clear() {
	g.lines, g.parts, g.truncated, g.full, g.phase, g.lastTS = 0, 0, false, false, 0, 0
	g.first = line.Line{}
	g.maybe = g.maybe[:0]
}

// cutUTF8 returns b cut to at most n bytes, not inside a UTF-8 sequence.
func cutUTF8(b []byte, n int) []byte {
	if n >= len(b) {
		return b
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(b[i]) {
		i--
	}
	if !utf8.RuneStart(b[i]) {
		return b[:n] // not UTF-8 here: cut where asked
	}
	return b[:i]
}
