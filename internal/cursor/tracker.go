package cursor

import "github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"

// Tracker follows the messages of one container as they are consumed and
// keeps the resume Position. It is not safe for concurrent use.
//
// Only points where no line is half assembled can be resumed from (a replay
// starts with fresh line assembly), so the Tracker keeps the last such point
// (settled by Settle) and counts the lines completed after it.
type Tracker struct {
	mode Mode
	live state
	q    state // last settled point
	// linesSinceQ counts per stream the lines emitted after q; they are
	// rebuilt and dropped again when a stream resumes from q. legacyLines
	// is a restored position's count across streams (SkipLines).
	linesSinceQ [2]uint64
	legacyLines uint64
	discarding  [2]Discard
}

// state is what a Position is computed from.
type state struct {
	since  int64
	maxTS  int64
	count  uint64 // messages at or after since (filter) or since the anchor (prefix) that the daemon re-sends
	anchor Fingerprint
	// Filter mode only: fingerprints of the messages at or after since, in
	// file order, so since can move forward and count be recomputed.
	ring     []Fingerprint
	restored uint64 // messages counted from a restored Position, not in ring
	floor    int64  // since may only advance past this (restored messages are at or below it)
}

// NewTracker starts tracking from p, a position where nothing is half read.
func NewTracker(mode Mode, p Position) *Tracker {
	s := state{since: p.Since, maxTS: p.MaxTimestamp, count: p.Skip, anchor: p.Anchor, restored: p.Skip, floor: p.MaxTimestamp}
	t := &Tracker{mode: mode, live: s, discarding: p.Discarding}
	t.q = t.live
	t.linesSinceQ, t.legacyLines = p.SkipStreamLines, p.SkipLines
	return t
}

// Mode reports the since semantics the tracker assumes.
func (t *Tracker) Mode() Mode { return t.mode }

// Observe records one consumed message; m.Partial says it did not end its
// line. m.Payload is read, not kept.
func (t *Tracker) Observe(m decode.Frame) {
	s, ts := &t.live, m.Timestamp
	if t.mode == SincePrefix {
		switch {
		case ts > s.maxTS:
			// A new maximum: nothing before it is at or after it, so the
			// daemon's first match on since=ts is this very message.
			s.maxTS, s.since, s.count = ts, ts, 1
			s.anchor = fingerprint(ts, m.Stream, m.Partial, m.Payload)
		case s.count == 0:
			// Before the first match the daemon still filters.
			if ts >= s.since {
				s.count = 1
				s.anchor = fingerprint(ts, m.Stream, m.Partial, m.Payload)
			}
		default:
			s.count++
		}
		return
	}
	if t.mode == SinceAfter {
		t.observeAfter(m)
		return
	}
	if ts > s.maxTS {
		s.maxTS = ts
	}
	if ts >= s.since {
		fp := fingerprint(ts, m.Stream, m.Partial, m.Payload)
		if s.count == 0 {
			s.anchor = fp
		}
		s.ring = append(s.ring, fp)
		s.count++
	}
}

// observeAfter is Observe for SinceAfter. It counts like SincePrefix,
// since a daemon that sends every message stored after since, in file
// order and with non-decreasing stamps, sends the log from its first match
// on, with two differences. Whatever a stream sends first is its first
// match, even when stamped before since: the daemon compares the stamps it
// stored, which it sends cut to whole seconds. And a later message stamped
// before the anchor (the host clock was stepped back) is filtered out by
// the next stream, so it is not counted.
func (t *Tracker) observeAfter(m decode.Frame) {
	s, ts := &t.live, m.Timestamp
	switch {
	case ts > s.maxTS:
		s.maxTS, s.since, s.count = ts, ts, 1
		s.anchor = fingerprint(ts, m.Stream, m.Partial, m.Payload)
	case s.count == 0:
		s.count = 1
		s.anchor = fingerprint(ts, m.Stream, m.Partial, m.Payload)
	case ts >= s.anchor.Timestamp:
		s.count++
	}
}

// LinesDone records that n lines of stream were emitted after the last
// settled point. Lines a replay rebuilds and drops (the Position's skip
// counts) are not recorded again: they are already counted.
func (t *Tracker) LinesDone(stream decode.Stream, n int) { t.linesSinceQ[stream.Index()] += uint64(n) }

// ForgetLines drops the count of lines completed after the last settled
// point: a replay that found a gap does not rebuild them, and the lines the
// stream completes from now on are counted afresh.
func (t *Tracker) ForgetLines() { t.linesSinceQ, t.legacyLines = [2]uint64{}, 0 }

// Settle marks the point after the last observed message as resumable: no
// line is half assembled there. discarding says which streams are dropping
// the rest of a truncated line.
func (t *Tracker) Settle(discarding [2]Discard) {
	if t.mode == SinceFilter {
		t.advanceFilter()
	}
	t.discarding = discarding
	t.q.since, t.q.maxTS, t.q.count, t.q.anchor = t.live.since, t.live.maxTS, t.live.count, t.live.anchor
	t.q.restored, t.q.floor = t.live.restored, t.live.floor
	t.q.ring = t.live.ring // shares the backing array; Rewind truncates
	t.linesSinceQ, t.legacyLines = [2]uint64{}, 0
}

// advanceFilter moves since forward so the replay window stays about
// FilterWindow long, dropping fingerprints that fall out of it.
func (t *Tracker) advanceFilter() {
	s := &t.live
	if s.maxTS-s.since <= 2*FilterWindow && len(s.ring) < 1<<16 {
		return
	}
	next := s.maxTS - FilterWindow
	if len(s.ring) >= 1<<16 {
		next = s.maxTS // a clock step back flooded the window: keep it small
	}
	if next <= s.floor || next <= s.since {
		return
	}
	kept := s.ring[:0]
	for _, fp := range s.ring {
		if fp.Timestamp >= next {
			kept = append(kept, fp)
		}
	}
	// Copy so a shrinking window does not pin a large array.
	s.ring = append([]Fingerprint(nil), kept...)
	s.since, s.count, s.restored = next, uint64(len(s.ring)), 0
	s.anchor = Fingerprint{}
	if len(s.ring) > 0 {
		s.anchor = s.ring[0]
	}
}

// Position is the resume point covering every message observed and every
// line completed so far.
func (t *Tracker) Position() Position {
	return Position{
		Since:           t.q.since,
		Skip:            t.q.count,
		Anchor:          t.q.anchor,
		SkipLines:       t.legacyLines,
		SkipStreamLines: t.linesSinceQ,
		MaxTimestamp:    t.q.maxTS,
		Discarding:      t.discarding,
	}
}

// Rewind returns the resume point and takes the live state back to the last
// settled point. Call it when a stream closes: the new stream's replay
// observes again what followed that point and rebuilds the same lines, of
// which the first Position.SkipLines were emitted already. A replay that
// ends early leaves them counted for the next one.
func (t *Tracker) Rewind() Position {
	p := t.Position()
	t.live = t.q // q.ring has the settled length; later appends are beyond it
	return p
}
