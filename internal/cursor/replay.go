package cursor

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
}

// NewReplay prepares to resume at p. tailed says the stream was opened with
// a tail window (see Position.TailSafe); lastMiss is the first message of
// the previous, smaller window that missed the anchor, if any (see
// MissedAt).
func NewReplay(p Position, tailed bool, lastMiss Fingerprint) *Replay {
	return &Replay{pos: p, tailed: tailed, lastMiss: lastMiss, done: p.Skip == 0}
}

// Keep reports whether a message is new. The first message must be the
// anchor; when it is not, the lines at the position were rotated away by
// Docker (or the log was truncated): Gap then reports true, and messages up to
// the newest timestamp already consumed are dropped as probably seen.
func (r *Replay) Keep(ts int64, stream uint8, partial bool, payload []byte) bool {
	if r.done {
		return true
	}
	if r.gap {
		if ts > r.pos.MaxTimestamp {
			r.done = true
			return true
		}
		r.dropped++
		return false
	}
	if r.missed {
		return false
	}
	if fp := FingerprintOf(ts, stream, partial, payload); r.dropped == 0 && fp != r.pos.Anchor {
		if r.tailed && fp != r.lastMiss {
			// The tail window did not reach back to the anchor.
			r.missed, r.first = true, fp
			return false
		}
		// Read without tail, or a larger window that starts where the
		// smaller one did, so it holds the whole log: the anchor is gone.
		r.gap = true
		return r.Keep(ts, stream, partial, payload)
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
