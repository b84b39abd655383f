package lifecycle

import (
	"encoding/binary"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/events"
)

const (
	// reorderWindow is how far Since trails the newest event handled. The
	// daemon stamps an event before it takes the lock that appends it to
	// its history, so two events logged at once can be stored out of
	// timestamp order: one published after the position but stamped a
	// little before the newest would be left out by a since at the newest.
	reorderWindow = time.Second
	// maxSeen bounds Seen. The daemon replays at most its last 256 events,
	// so any event it can send again is among the newest 256 handled.
	maxSeen = 512
)

// Position is where the event stream resumes: the since of the next
// subscription, and the events at or after it that were already handled,
// which the daemon will send again and the watcher skips.
type Position struct {
	// Since is the since of the next subscription: Unix nanoseconds by the
	// daemon's clock. 0 means no position yet.
	Since int64 `json:"since"`
	// Seen marks the events handled at or after Since, in the order they
	// arrived.
	Seen []Mark `json:"seen,omitempty"`
}

// Mark identifies one event handled.
type Mark struct {
	// Time is the event's timeNano.
	Time int64 `json:"t"`
	// Key tells apart events of the same nanosecond (see key).
	Key string `json:"k"`
}

// Has reports whether m was already handled.
func (p *Position) Has(m events.Message) bool {
	if m.TimeNano < p.Since {
		// The daemon sends no such event on a since request; one that comes
		// live anyway is new (a daemon clock stepped back).
		return false
	}
	k := key(m)
	return slices.ContainsFunc(p.Seen, func(s Mark) bool { return s.Time == m.TimeNano && s.Key == k })
}

// Add records that m was handled: Since moves to reorderWindow before the
// newest event handled (never back), and marks before it are dropped.
func (p *Position) Add(m events.Message) {
	p.Seen = append(p.Seen, Mark{Time: m.TimeNano, Key: key(m)})
	var newest int64
	for _, s := range p.Seen {
		newest = max(newest, s.Time)
	}
	p.Since = max(p.Since, newest-int64(reorderWindow))
	p.Seen = slices.DeleteFunc(p.Seen, func(s Mark) bool { return s.Time < p.Since })
	if n := len(p.Seen) - maxSeen; n > 0 {
		p.Seen = slices.Delete(p.Seen, 0, n)
	}
}

// key hashes what the daemon sends of an event besides its time: type,
// action, actor and attributes. Two events of one nanosecond differ in
// one of them; the same event sent again is equal in all.
func key(m events.Message) string {
	h := fnv.New64a()
	field := func(s string) {
		var n [binary.MaxVarintLen64]byte
		_, _ = h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		_, _ = h.Write([]byte(s))
	}
	field(string(m.Type))
	field(string(m.Action))
	field(m.Actor.ID)
	field(m.Scope)
	attrs := make([]string, 0, len(m.Actor.Attributes))
	for k := range m.Actor.Attributes {
		attrs = append(attrs, k)
	}
	slices.Sort(attrs)
	for _, k := range attrs {
		field(k)
		field(m.Actor.Attributes[k])
	}
	return strconv.FormatUint(h.Sum64(), 16)
}
