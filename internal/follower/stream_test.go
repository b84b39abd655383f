package follower

import (
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
)

// TestEndPosition: the end position is anchored on the last message unless
// that message is part of an unfinished line.
func TestEndPosition(t *testing.T) {
	last := cursor.FingerprintOf(5e9, 1, false, []byte("last\n"))
	p := endPosition(last)
	if !p.TailSafe() || p.Since != 5e9 || p.Skip != 1 || p.Anchor != last || p.MaxTimestamp != 5e9 {
		t.Errorf("complete last line: %+v", p)
	}
	part := cursor.FingerprintOf(5e9, 1, true, []byte("part"))
	if p := endPosition(part); p.TailSafe() || p.Since != 5e9+1 || p.Skip != 0 {
		t.Errorf("partial last message: %+v", p)
	}
	if p := endPosition(cursor.Fingerprint{}); p != (cursor.Position{}) {
		t.Errorf("empty log: %+v", p)
	}
}

// TestTailWindow: each miss quadruples the window; past the cap the reopen
// goes without tail.
func TestTailWindow(t *testing.T) {
	for _, tc := range []struct {
		base, skip uint64
		misses     int
		want       uint64
	}{
		{1000, 1, 0, 1000},
		{1000, 900, 0, 1800},
		{1000, 1, 1, 4000},
		{1000, 1, 2, 16000},
		{1000, 1, 8, 0},
		{1000, 1, 6, 0}, // 4,096,000 > cap
		{1000, 1, 5, 1_024_000},
		{1 << 20, 1, 0, 1 << 20},
		{1 << 20, 1, 1, 0},
		{1000, 1 << 40, 0, 1 << 41}, // a huge skip is asked for as it is
		{1000, 1 << 40, 1, 0},
	} {
		if got := tailWindow(tc.base, tc.skip, tc.misses); got != tc.want {
			t.Errorf("tailWindow(%d, %d, %d) = %d, want %d", tc.base, tc.skip, tc.misses, got, tc.want)
		}
	}
}
