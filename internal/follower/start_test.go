package follower

import (
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
)

// TestEndPosition: the end position is anchored on the last message unless
// that message is part of an unfinished line.
func TestEndPosition(t *testing.T) {
	last := cursor.FingerprintOf(decode.Frame{Timestamp: 5e9, Stream: decode.Stdout, Payload: []byte("last\n")})
	p := endPosition(last)
	if !p.TailSafe() || p.Since != 5e9 || p.Skip != 1 || p.Anchor != last || p.MaxTimestamp != 5e9 {
		t.Errorf("complete last line: %+v", p)
	}
	part := cursor.FingerprintOf(decode.Frame{Timestamp: 5e9, Stream: decode.Stdout, Payload: []byte("part"), Partial: true})
	if p := endPosition(part); p.TailSafe() || p.Since != 5e9+1 || p.Skip != 0 {
		t.Errorf("partial last message: %+v", p)
	}
	if p := endPosition(cursor.Fingerprint{}); p != (cursor.Position{}) {
		t.Errorf("empty log: %+v", p)
	}
}
