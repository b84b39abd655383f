package follower

import (
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
)

// resendGuard drops the copies Docker 20.10's json-file reader sends again
// around its own file rotation (a block of messages it had already sent).
// They are not in the log files, so they must not reach the position or the
// consumer. The copier stamps every line anew and a stream's stamps only
// grow, so a message that is not newer than its stream's newest, equal to
// one of its recent messages, and not the continuation of an open line
// (parts of one line share a stamp and may repeat) is such a copy.
type resendGuard struct {
	newest [2]int64
	open   [2]bool // the stream's last message was a non-final part
	recent [2][]cursor.Fingerprint
	next   [2]int
}

const resendWindow = 256

func (g *resendGuard) resent(fr decode.Frame) bool {
	i := fr.Stream.Index()
	fp := cursor.FingerprintOf(fr)
	if fr.Timestamp <= g.newest[i] && (!fr.Partial || !g.open[i]) {
		for _, seen := range g.recent[i] {
			if seen == fp {
				return true
			}
		}
	}
	g.newest[i] = max(g.newest[i], fr.Timestamp)
	g.open[i] = fr.Partial
	if len(g.recent[i]) < resendWindow {
		g.recent[i] = append(g.recent[i], fp)
	} else {
		g.recent[i][g.next[i]] = fp
		g.next[i] = (g.next[i] + 1) % resendWindow
	}
	return false
}
