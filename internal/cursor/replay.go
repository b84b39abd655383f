package cursor

import "github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"

// Replay filters the start of a stream reopened at a Position: it drops the
// messages the daemon sends again.
type Replay struct {
	pos      Position
	tailed   bool
	lastMiss Fingerprint
	first    Fingerprint
	dropped  uint64
	done     bool
	gap      bool
	missed   bool

	// A search (NewSearch) looks for the anchor in a stream opened with an
	// earlier since.
	search bool
	found  bool   // the anchor was seen
	seen   uint64 // messages the search dropped, all at or after its since
	head   Fingerprint
}

// NewReplay prepares to resume at p. tailed says the stream was opened with
// a tail window (see Position.TailSafe); lastMiss is the first message of
// the previous, smaller window that missed the anchor, if any (see
// MissedAt).
func NewReplay(p Position, tailed bool, lastMiss Fingerprint) *Replay {
	return &Replay{pos: p, tailed: tailed, lastMiss: lastMiss, done: p.Skip == 0}
}

// NewSearch prepares to find p, an anchored position (Skip > 0), in a
// stream opened with a since earlier than p.Since, on an Engine that drops
// messages older than since (SinceFilter). That is how a run's lines are
// read after the host clock was stepped back across a restart: they are
// stamped before p.Since, so a stream opened at p.Since would never send
// them. Everything up to p's anchor is dropped, then the messages up to the
// p.Skip-th one at or after p.Since (older ones among them were consumed
// too); what follows is new.
func NewSearch(p Position) *Replay {
	return &Replay{pos: p, search: true}
}

// Searched reports, once a search is done, the position equal to p that
// the stream's own since can resume from: its first message is the anchor,
// and every message the search dropped counts as skipped. Restored counts
// stay below p.MaxTimestamp's floor, so since does not move past the new
// run's messages until they are stamped later than p's newest.
func (r *Replay) Searched(since int64) Position {
	return Position{Since: since, Skip: r.seen, Anchor: r.head, SkipLines: r.pos.SkipLines, SkipStreamLines: r.pos.SkipStreamLines,
		MaxTimestamp: r.pos.MaxTimestamp, Discarding: r.pos.Discarding}
}

// keepSearching is Keep for a search.
func (r *Replay) keepSearching(m decode.Frame) bool {
	fp := FingerprintOf(m)
	r.seen++
	if r.seen == 1 {
		r.head = fp
	}
	switch {
	case !r.found && fp == r.pos.Anchor:
		r.found, r.dropped = true, 1
	case r.found && m.Timestamp >= r.pos.Since:
		r.dropped++
	}
	r.done = r.found && r.dropped == r.pos.Skip
	return false
}

// Keep reports whether a message is new. The first message must be the
// anchor; when it is not, the lines at the position were rotated away by
// Docker (or the log was truncated): Gap then reports true, and messages up to
// the newest timestamp already consumed are dropped as probably seen.
func (r *Replay) Keep(m decode.Frame) bool {
	if r.done {
		return true
	}
	if r.search {
		return r.keepSearching(m)
	}
	if r.gap {
		if m.Timestamp > r.pos.MaxTimestamp {
			r.done = true
			return true
		}
		r.dropped++
		return false
	}
	if r.missed {
		return false
	}
	if fp := FingerprintOf(m); r.dropped == 0 && fp != r.pos.Anchor {
		if m.Timestamp < r.pos.Since {
			// Sent although stamped before since: a SinceAfter daemon
			// asked to start a margin early. Such messages precede the
			// anchor in the log, and were consumed.
			return false
		}
		if r.tailed && fp != r.lastMiss {
			// The tail window did not reach back to the anchor.
			r.missed, r.first = true, fp
			return false
		}
		// Read without tail, or a larger window that starts where the
		// smaller one did, so it holds the whole log: the anchor is gone.
		r.gap = true
		return r.Keep(m)
	}
	r.dropped++
	r.done = r.dropped == r.pos.Skip
	return false
}

// Dropped is how many messages were dropped so far.
func (r *Replay) Dropped() uint64 { return r.dropped }

// Gap reports that the resume point was not found.
func (r *Replay) Gap() bool { return r.gap }

// Missed reports that a tailed stream starts after the anchor: close it and
// reopen with a larger window. Nothing it sent was kept.
func (r *Replay) Missed() bool { return r.missed }

// MissedAt is the first message of a window that missed the anchor: pass it
// to the replay of the next, larger window.
func (r *Replay) MissedAt() Fingerprint { return r.first }

// Untailed reports whether the next stream must be opened without a tail
// window: this one was tailed and did not get past the replay, because its
// window started after the anchor, or held only messages older than since
// (which the daemon filters out, so the window looks empty).
func (r *Replay) Untailed() bool { return r.tailed && !r.done }

// Done reports that every message from now on is new.
func (r *Replay) Done() bool { return r.done }
