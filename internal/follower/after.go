package follower

import (
	"context"
	"errors"
	"io"

	"github.com/moby/moby/client"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
)

// endAfter is startPosition's end of the log on a SinceAfter daemon
// (Podman), given the stamp of the last message its tail=1 returned: the
// message itself cannot serve as the anchor, since Podman's tail re-assembles
// split lines its own way, and its stamp is cut to the second, shared by the
// messages before it in that second. So the log is read once more from that
// stamp on, without tail, and tracked like a stream: the position lies after
// the last message, and drops the rest of a line still being written there.
func (f *Follower) endAfter(ctx context.Context, c docker.Container, last int64) (cursor.Position, error) {
	if last == 0 {
		return cursor.Position{}, nil // an empty log
	}
	t := cursor.NewTracker(cursor.SinceAfter, cursor.Position{Since: last, MaxTimestamp: last - 1})
	body, err := f.set.API.ContainerLogs(ctx, f.id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Timestamps: true, Since: cursor.SinceAfter.SinceParam(t.Position()),
	})
	if err != nil {
		return cursor.Position{}, wrap("read the end of the log", c, err)
	}
	defer body.Close()
	dec := newDecoder(c, body, cursor.SinceAfter)
	var open [2]cursor.Discard // a stream's last message was a part of a line
	for {
		fr, err := dec.Next()
		if errors.Is(err, io.EOF) {
			// The end is after the last message. A line still being
			// written there began before the end: the rest of it is
			// dropped, like the lines before it.
			t.Settle(open)
			return t.Position(), nil
		}
		if err != nil {
			return cursor.Position{}, wrap("read the end of the log", c, err)
		}
		t.Observe(fr)
		if d := &open[fr.Stream.Index()]; fr.Partial && !d.On {
			*d = cursor.Discard{On: true, Timestamp: fr.Timestamp}
		} else if !fr.Partial {
			*d = cursor.Discard{}
		}
		if !open[0].On && !open[1].On {
			t.Settle([2]cursor.Discard{})
		}
	}
}
