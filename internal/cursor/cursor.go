// Package cursor tracks how far a container's log has been consumed, in a
// form the Docker daemon can resume from exactly.
//
// The Engine API has no offsets: a reopened stream can only ask for messages
// "since" a timestamp, timestamps repeat (parts of a split line share one,
// two lines can coincide) and stdout and stderr messages can be out of
// timestamp order in the file. A Position therefore names a timestamp to
// send as since, plus how many of the messages the daemon will send again are
// already consumed, plus a fingerprint of the first of them so a resume can
// confirm it starts where it should. See docs/design.md.
//
// Messages come as the decoder's decode.Frame; the package knows nothing of
// the Docker client or of pdata.
package cursor // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"

import (
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
)

// Mode says how the daemon applies since; it changed in Docker Engine 23.
type Mode uint8

const (
	// SincePrefix (Engine 23 and later): the daemon skips messages older
	// than since until the first one at or after it, then sends every later
	// message in file order, whatever its timestamp.
	SincePrefix Mode = iota
	// SinceFilter (Engine before 23): the daemon drops every message older
	// than since, before and after the first match.
	SinceFilter
	// SinceAfter (Podman's Docker-compatible API): the daemon sends the
	// messages it stored strictly after since (parsed as a float, so only to
	// about a quarter of a microsecond), but stamps them in whole seconds.
	// One writer (conmon) stamps and writes them in file order, so what it
	// sends is the log from the first message after since on. Its tail
	// cannot be combined with since: it re-assembles split lines wrongly
	// and a follow stream loses what is written while it is read.
	SinceAfter
)

func (m Mode) String() string {
	switch m {
	case SinceFilter:
		return "filter"
	case SinceAfter:
		return "after"
	}
	return "prefix"
}

// sinceMargin is how far before a position's Since a SinceAfter daemon is
// asked to start: since is exclusive there, and the float it is parsed into
// is off by up to about 0.12 µs (more after 2106). The messages of the
// margin, stamped before Since, are dropped by the Replay.
const sinceMargin = 1000 // ns

// SinceParam formats p's Since for a daemon of mode m (see
// Position.SinceParam).
func (m Mode) SinceParam(p Position) string {
	if m == SinceAfter && p.Since > 0 {
		p.Since = max(p.Since-sinceMargin, 1)
	}
	return p.SinceParam()
}

// TailSafe reports whether a reopen at p may ask a daemon of mode m for a
// tail window (see Position.TailSafe): never on SinceAfter daemons.
func (m Mode) TailSafe(p Position) bool { return m != SinceAfter && p.TailSafe() }

// ModeForEngine returns the since semantics of a Docker Engine version such
// as "20.10.24" or "29.1.0". Unparsable versions get the modern semantics.
func ModeForEngine(version string) Mode {
	major, _, _ := strings.Cut(version, ".")
	n, err := strconv.Atoi(major)
	if err == nil && n < 23 {
		return SinceFilter
	}
	return SincePrefix
}

// FilterWindow is how far since trails the newest timestamp in SinceFilter
// mode. There a message written after the resume point but stamped more than
// this before the newest consumed message is dropped by the daemon; stdout
// and stderr are stamped microseconds apart in practice.
const FilterWindow int64 = 50e6 // ns

// Fingerprint identifies a message well enough to confirm a resume point.
// The zero value means "no message".
type Fingerprint struct {
	Timestamp int64  `json:"ts"`
	Stream    uint8  `json:"s"`
	Len       uint32 `json:"n"`
	CRC       uint32 `json:"c"`
	// Partial marks a non-final part of a split line: later parts share its
	// timestamp and may share its bytes, so it does not identify a message
	// uniquely.
	Partial bool `json:"p,omitempty"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FingerprintOf fingerprints one message.
func FingerprintOf(m decode.Frame) Fingerprint {
	return fingerprint(m.Timestamp, m.Stream, m.Partial, m.Payload)
}

// fingerprint is FingerprintOf on the message's fields: the Tracker passes
// them so, which is cheaper per message than passing the frame on again.
func fingerprint(ts int64, stream decode.Stream, partial bool, payload []byte) Fingerprint {
	return Fingerprint{Timestamp: ts, Stream: uint8(stream), Len: uint32(len(payload)), CRC: crc32.Checksum(payload, castagnoli), Partial: partial}
}

// Position is a resume point: open the stream with since=Since, drop the
// first Skip messages (Anchor is the first of them), rebuild lines from what
// follows and drop the first SkipLines completed lines, then per stream the
// first SkipStreamLines[i] lines of that stream: they were emitted already.
// The zero Position reads the log from its beginning.
//
// Lines are counted per stream because records may group several lines of
// one stream (multiline): while one stream holds a group back, the other
// emits, so the lines emitted are a prefix of each stream's lines, not of
// their interleaving. SkipLines counts across streams; only positions saved
// by earlier versions have it.
type Position struct {
	Since           int64       `json:"since"`
	Skip            uint64      `json:"skip"`
	Anchor          Fingerprint `json:"anchor"`
	SkipLines       uint64      `json:"skip_lines,omitempty"`
	SkipStreamLines [2]uint64   `json:"skip_stream_lines,omitzero"`
	MaxTimestamp    int64       `json:"max_ts"`
	// Discarding is set per stream (stdout, stderr) while the rest of a line
	// longer than max_log_size is being dropped.
	Discarding [2]Discard `json:"discarding,omitzero"`
}

// Discard marks a stream that is dropping the rest of an over-long line;
// Timestamp is that line's, which its remaining parts share.
type Discard struct {
	On        bool  `json:"on,omitempty"`
	Timestamp int64 `json:"ts,omitempty"`
}

// SinceParam formats Since for the API: seconds and nine fraction digits,
// which every Engine parses exactly. Empty means "no since".
func (p Position) SinceParam() string {
	if p.Since <= 0 {
		return ""
	}
	frac := strconv.FormatInt(p.Since%1e9, 10)
	return strconv.FormatInt(p.Since/1e9, 10) + "." + strings.Repeat("0", 9-len(frac)) + frac
}

// TailSafe reports whether a reopen may ask for only the newest messages
// (tail) together with since. The daemon applies tail first; if that window
// holds the anchor, the replay is the same as without tail, and if not, the
// first message differs from the anchor and the caller reopens without
// tail. That check needs an anchor that no later message can equal: a
// complete line (the copier stamps each anew), not a part of a split line.
func (p Position) TailSafe() bool { return p.Skip > 0 && !p.Anchor.Partial }
