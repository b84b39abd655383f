package follower

import "github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"

// tailWindows remembers, across a container's reopens, how the last tail
// windows fared: a window that misses the position makes the next larger.
type tailWindows struct {
	// misses counts the tail windows in a row that did not reach back to
	// the position; each makes the next window larger.
	misses int
	// missedAt is the first message of the last window that missed.
	missedAt cursor.Fingerprint
}

// size is the tail to ask for at pos, base messages at least; 0: none.
func (w *tailWindows) size(base uint64, pos cursor.Position) uint64 {
	return tailWindow(base, pos.Skip, w.misses)
}

// ended records how a stream's replay fared.
func (w *tailWindows) ended(r *cursor.Replay) {
	w.missedAt = r.MissedAt()
	if r.Untailed() {
		w.misses++
	} else {
		w.misses = 0
	}
}

// maxTailWindow is the largest tail window asked for; past it a reopen
// reads with since alone. Growing the window keeps the daemon's work in
// proportion to how far the reader is behind, not to the log's size. A
// position Docker rotated away shows as a larger window that starts at the
// same message as the one before (cursor.Replay reports the gap then).
const maxTailWindow = 1 << 20

// tailWindow is the tail asked for at a position that must skip skip
// messages, after misses windows in a row missed it: base (at least twice
// skip) times 4 per miss, or 0 (no tail) past maxTailWindow.
func tailWindow(base, skip uint64, misses int) uint64 {
	w := max(base, 2*skip)
	for range misses {
		if w > maxTailWindow/4 {
			return 0
		}
		w *= 4
	}
	return w
}
