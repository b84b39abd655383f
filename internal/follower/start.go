package follower

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/moby/moby/client"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
)

// startPosition decides where reading begins: the position the group gave,
// or the end of the log. At the end, it asks the daemon for the last message (tail=1, a
// short request) and starts just after it. The position is anchored on that
// message, so later reopens can use a tail window instead of a full scan.
func (f *Follower) startPosition(ctx context.Context) (cursor.Position, error) {
	if !f.start.AtEnd {
		return f.start.Position, nil
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := f.info.Load()
	body, err := f.set.API.ContainerLogs(rctx, f.id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Timestamps: true, Tail: "1",
	})
	if err != nil {
		return cursor.Position{}, wrap("read last log line", *c, err)
	}
	defer body.Close()
	dec := newDecoder(*c, body, f.set.Mode())
	var last cursor.Fingerprint
	for {
		fr, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return cursor.Position{}, wrap("read last log line", *c, err)
		}
		if fr.Timestamp >= last.Timestamp {
			last = cursor.FingerprintOf(fr)
		}
	}
	if f.set.Mode() == cursor.SinceAfter {
		return f.endAfter(rctx, *c, last.Timestamp)
	}
	return endPosition(last), nil
}

// endPosition is the position just after last, the log's last message.
func endPosition(last cursor.Fingerprint) cursor.Position {
	switch {
	case last.Timestamp == 0:
		// An empty log: everything it will hold is new.
		return cursor.Position{}
	case last.Partial:
		// The rest of its line shares nothing a replay could confirm:
		// skip by time, and the later reopens scan (TailSafe is false).
		return cursor.Position{Since: last.Timestamp + 1, MaxTimestamp: last.Timestamp}
	}
	// Since at its stamp re-sends it first (both since modes), as the
	// one message to skip.
	return cursor.Position{Since: last.Timestamp, Skip: 1, Anchor: last, MaxTimestamp: last.Timestamp}
}
