package cursor

// Replay filters the start of a stream reopened at a Position: it drops the
// messages the daemon sends again.
type Replay struct {
	pos     Position
	dropped uint64
	done    bool
	gap     bool
}

// NewReplay prepares to resume at p.
func NewReplay(p Position) *Replay {
	return &Replay{pos: p, done: p.Skip == 0}
}

// Keep reports whether a message is new. The first message must be the
// anchor; when it is not, the lines at the position were rotated away by
// Docker (or the log was truncated): Gap then reports true, and messages up to
// the newest timestamp already consumed are dropped as probably seen.
func (r *Replay) Keep(ts int64, stream uint8, payload []byte) bool {
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
	if r.dropped == 0 && FingerprintOf(ts, stream, payload) != r.pos.Anchor {
		r.gap = true
		return r.Keep(ts, stream, payload)
	}
	r.dropped++
	r.done = r.dropped == r.pos.Skip
	return false
}

// Dropped is how many messages were dropped so far.
func (r *Replay) Dropped() uint64 { return r.dropped }

// Gap reports that the resume point was not found.
func (r *Replay) Gap() bool { return r.gap }

// Done reports that every message from now on is new.
func (r *Replay) Done() bool { return r.done }
