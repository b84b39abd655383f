// Package decode splits a Docker Engine API logs response
// (GET /containers/{id}/logs?timestamps=1) into Frames: one per message the
// daemon sent, with the "TS " prefix parsed into Unix nanoseconds.
//
// A Reader owns one reusable buffer and hands out Payload slices that alias
// it, so decoding does not allocate per frame. It is not safe for concurrent use.
package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Stream is the output stream a message was written to.
type Stream uint8

// Streams of a Frame. The daemon's stdin stream (0) is reported as Stdout.
const (
	Stdout Stream = 1
	Stderr Stream = 2
)

// String returns "stdout" or "stderr".
func (s Stream) String() string {
	switch s {
	case Stdout:
		return "stdout"
	case Stderr:
		return "stderr"
	}
	return "stream(" + strconv.Itoa(int(s)) + ")"
}

// Index is the stream's slot in per-stream state: 0 for stdout (and any
// stream but stderr), 1 for stderr.
func (s Stream) Index() int {
	if s == Stderr {
		return 1
	}
	return 0
}

// Frame is one log message as the daemon sent it (one stdcopy frame, or one
// timestamp-prefixed message of a TTY raw stream).
type Frame struct {
	Timestamp int64 // Unix ns parsed from the daemon's "TS " prefix; 0 when BadTimestamp
	Stream    Stream
	// Payload is the message text without the timestamp prefix and without the
	// final '\n'. It aliases the Reader's buffer: valid until the next Next.
	Payload      []byte
	Partial      bool // the message did not end in '\n' (Docker split the line at 16 KiB, or EOF leftover)
	BadTimestamp bool // prefix missing or unparsable: Payload is the whole message
}

// Defaults.
const (
	// DefaultMaxFrame is used when a constructor gets maxFrame <= 0.
	DefaultMaxFrame = 1 << 20
	// DefaultPartialSize is the size of Docker's log copier buffer: the length
	// of every non-final part of a split line.
	DefaultPartialSize = 16 * 1024
	// initialBufSize is the size of a Reader's buffer before it has to grow.
	initialBufSize = 64 * 1024
	// headerLen is the size of a stdcopy frame header.
	headerLen = 8
)

// Errors returned by Reader.Next (wrapped with context; test with errors.Is).
// Both mean the stream is out of sync: the Reader returns the same error from
// then on, and the caller has to open a new stream.
var (
	ErrBadHeader     = errors.New("decode: bad frame header")
	ErrFrameTooLarge = errors.New("decode: frame too large")
)

// DaemonError is a message the daemon wrote instead of log data: the
// "systemerr" stream of a multiplexed response, or an "Error grabbing logs: "
// line without timestamp in a TTY response. The message is consumed, so the
// Reader stays in sync, but the daemon normally ends the stream after it.
type DaemonError struct {
	Message string // as sent, without the trailing '\n'
}

func (e *DaemonError) Error() string { return "decode: docker daemon: " + e.Message }

// daemonErrPrefix starts the daemon's error text (moby api/server/httputils.WriteLogStream).
const daemonErrPrefix = "Error grabbing logs: "

// Reader decodes Frames from a logs response body.
type Reader struct {
	// PartialSize is the length of a non-final part of a split line in a TTY
	// (raw) stream; values <= 0 mean DefaultPartialSize and values above
	// maxFrame are clamped. It must match the daemon's log driver buffer size.
	// Unused for multiplexed streams, which carry their own framing.
	PartialSize int
	// SplitCR joins a TTY line that Podman sent in two messages, its text
	// and then the terminal's "\r\n" (see joinCR). Set it for Podman only.
	SplitCR bool

	rd       io.Reader
	raw      bool
	maxFrame int
	limit    int    // the buffer never grows beyond this
	buf      []byte // unread bytes are buf[r:w]
	r, w     int
	rerr     error // error returned by rd, reported once buf[r:w] is used up
	err      error // sticky error returned by Next
	off      int64 // stream offset of buf[r], for error messages
	ts       tsCache
}

// NewMuxReader returns a Reader for application/vnd.docker.multiplexed-stream
// (containers without TTY). Frames with a payload larger than maxFrame bytes
// fail with ErrFrameTooLarge; maxFrame <= 0 means DefaultMaxFrame.
func NewMuxReader(r io.Reader, maxFrame int) *Reader {
	return newReader(r, maxFrame, false)
}

// NewRawReader returns a Reader for a TTY container's raw stream: the daemon
// writes "TS message\n" with no framing and every message is Stdout. maxFrame
// bounds the buffer (and PartialSize); <= 0 means DefaultMaxFrame.
func NewRawReader(r io.Reader, maxFrame int) *Reader {
	return newReader(r, maxFrame, true)
}

func newReader(r io.Reader, maxFrame int, raw bool) *Reader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	limit := maxFrame + headerLen
	if raw {
		// prefix + PartialSize + 1 byte to tell "exactly PartialSize bytes and '\n'".
		limit = maxFrame + maxPrefix + 2
	}
	return &Reader{
		PartialSize: DefaultPartialSize,
		rd:          r,
		raw:         raw,
		maxFrame:    maxFrame,
		limit:       limit,
		buf:         make([]byte, min(initialBufSize, limit)),
	}
}

// Next returns the next Frame. Its Payload aliases the Reader's buffer and is
// valid until the next call. Next returns io.EOF at a clean end of the stream,
// an error wrapping io.ErrUnexpectedEOF when a multiplexed stream ends inside a
// frame, and a *DaemonError for an error message of the daemon.
func (r *Reader) Next() (f Frame, err error) {
	if r.err != nil {
		return f, r.err
	}
	if r.raw {
		if err = r.nextRaw(&f); err != nil {
			return Frame{}, err
		}
		return f, nil
	}
	var p []byte
	if p, f.Stream, err = r.nextMux(); err != nil {
		return Frame{}, err
	}
	if ts, n, ok := r.prefix(p); ok {
		f.Timestamp = ts
		p = p[n:]
	} else {
		f.BadTimestamp = true
	}
	if n := len(p) - 1; n >= 0 && p[n] == '\n' {
		p = p[:n:n]
	} else {
		f.Partial = true
	}
	f.Payload = p
	return f, nil
}

// nextMux returns the next frame's payload (with prefix and '\n').
func (r *Reader) nextMux() ([]byte, Stream, error) {
	for {
		if err := r.ensure(headerLen); err != nil {
			return nil, 0, r.fail(err, "frame header")
		}
		h := r.buf[r.r : r.r+headerLen]
		kind := h[0]
		if kind > 3 || h[1]|h[2]|h[3] != 0 {
			r.err = fmt.Errorf("%w % x at offset %d", ErrBadHeader, h, r.off)
			return nil, 0, r.err
		}
		size := binary.BigEndian.Uint32(h[4:])
		if uint64(size) > uint64(r.maxFrame) {
			r.err = fmt.Errorf("%w: %d bytes at offset %d (max %d)", ErrFrameTooLarge, size, r.off, r.maxFrame)
			return nil, 0, r.err
		}
		n := headerLen + int(size)
		if err := r.ensure(n); err != nil {
			return nil, 0, r.fail(err, "frame payload")
		}
		p := r.buf[r.r+headerLen : r.r+n : r.r+n]
		r.r += n
		r.off += int64(n)
		switch {
		case kind == 3:
			return nil, 0, &DaemonError{Message: string(bytes.TrimSuffix(p, []byte("\n")))}
		case size == 0:
			continue // carries no message
		case kind == 2:
			return p, Stderr, nil
		default: // 0 (stdin) or 1
			return p, Stdout, nil
		}
	}
}

// prefix parses the "TS " prefix at the start of b and returns the timestamp
// and the prefix length including the space.
func (r *Reader) prefix(b []byte) (ts int64, n int, ok bool) {
	if len(b) > fixedLen && b[fixedLen] == ' ' {
		if ts, ok := r.ts.parse(b[:fixedLen]); ok {
			return ts, fixedLen + 1, true
		}
	}
	// Slow path: any RFC3339Nano form, or no timestamp at all.
	i := bytes.IndexByte(b[:min(len(b), maxPrefix+1)], ' ')
	if i < minPrefix {
		return 0, 0, false
	}
	if ts, ok := parseSlow(b[:i]); ok {
		return ts, i + 1, true
	}
	return 0, 0, false
}

// nextRaw decodes the next message of a TTY stream into f.
func (r *Reader) nextRaw(f *Frame) error {
	partial := r.PartialSize
	if partial <= 0 {
		partial = DefaultPartialSize
	}
	partial = min(partial, r.maxFrame)

	var (
		ts   int64
		plen int
		ok   bool
		nl   = -1
		err  error
	)
	if r.w-r.r > fixedLen && r.buf[r.r+fixedLen] == ' ' {
		if ts, ok = r.ts.parse(r.buf[r.r : r.r+fixedLen]); ok {
			plen = fixedLen + 1
		}
	}
	if !ok {
		// Buffer enough to decide the prefix: maxPrefix+1 bytes, a '\n' or the end.
		nl, err = r.findNewline(0, maxPrefix+1)
		if r.w == r.r {
			return r.fail(err, "")
		}
		window := min(r.w-r.r, maxPrefix+1)
		if nl >= 0 {
			window = nl
		}
		ts, plen, ok = r.prefix(r.buf[r.r : r.r+window])
	}
	// The message runs to '\n', or is a part of exactly partial bytes. One
	// more byte is looked at so that a line of exactly partial bytes and its
	// '\n' is not taken for a part.
	if nl < 0 || nl > plen+partial {
		nl, err = r.findNewline(plen, plen+partial+1)
	}
	var n int // bytes consumed
	switch {
	case nl >= 0:
		f.Payload = r.buf[r.r+plen : r.r+nl : r.r+nl]
		n = nl + 1
	case err == nil: // plen+partial+1 bytes buffered, no '\n'
		f.Payload = r.buf[r.r+plen : r.r+plen+partial : r.r+plen+partial]
		f.Partial = true
		n = plen + partial
	case err == io.EOF: // the container's leftover without '\n'
		n = r.w - r.r
		f.Payload = r.buf[r.r+plen : r.r+n : r.r+n]
		f.Partial = true
	default: // aborted: the leftover is not known to be complete
		return r.fail(err, "")
	}
	if ok && r.SplitCR && nl >= 0 {
		f.Payload = joinCR(f.Payload, ts)
	}
	if ok {
		if k := r.nextStampAt(f.Payload, ts); k >= 0 {
			// A run that ended without '\n' left its last text as a
			// partial message, and the raw stream puts the next message
			// (the next run's) right behind it.
			f.Payload = f.Payload[:k:k]
			f.Partial = true
			n = plen + k
		}
	}
	r.r += n
	r.off += int64(n)
	f.Stream, f.Timestamp, f.BadTimestamp = Stdout, ts, !ok
	if !ok && bytes.HasPrefix(f.Payload, []byte(daemonErrPrefix)) {
		// Container output always has a timestamp: this line is the daemon's.
		return &DaemonError{Message: string(f.Payload)}
	}
	return nil
}

// nextStampAt returns where in a TTY message's payload the daemon's next
// message begins, or -1: a timestamp prefix in Docker's fixed format,
// stamped after ts. Text a program writes rarely holds one, and then it is
// stamped before the daemon read it: ts, the daemon's stamp, is later.
func (r *Reader) nextStampAt(p []byte, ts int64) int {
	for i := 0; ; {
		j := bytes.Index(p[i:], stampEnd)
		if j < 0 {
			return -1
		}
		j += i
		// start > 0: the text before it is the run's unfinished line; a
		// run that left nothing behind sends no message for it.
		if start := j + 1 - fixedLen; start > 0 {
			if next, ok := r.ts.parse(p[start : j+1]); ok && next > ts {
				return start
			}
		}
		i = j + len(stampEnd)
	}
}

// joinCR undoes a split that Podman makes in TTY lines. conmon stores what
// it reads from the terminal at a time as one message, and the terminal
// writes a line's text and the "\r\n" it turns "\n" into as two pieces, so
// a read between them stores the text as a partial message and "\r" as the
// next one. Podman sends both with their stamps, in whole seconds
// (RFC 3339, "Z" or an offset), and without framing the second stamp ends
// up inside the line: "text" + "2026-01-02T03:04:05Z " + "\r". A payload
// that ends so, the stamp no earlier than ts and at most a second later,
// loses the inner stamp. Text that itself ends with such a stamp, a space
// and "\r" is cut too.
func joinCR(p []byte, ts int64) []byte {
	n := len(p)
	if n < minPrefix+2 || p[n-1] != '\r' || p[n-2] != ' ' {
		return p
	}
	for _, l := range [...]int{minPrefix, len("2006-01-02T15:04:05+07:00")} {
		start := n - 2 - l
		if start < 0 {
			continue
		}
		if next, ok := parseSlow(p[start : n-2]); ok && next >= ts-ts%e9 && next-ts <= e9 {
			p[start] = '\r'
			return p[: start+1 : start+1]
		}
	}
	return p
}

// stampEnd ends a fixed-format timestamp prefix: "...000000000Z ".
var stampEnd = []byte("Z ")

// findNewline buffers bytes until buf[r.r+from:r.r+to] holds a '\n' or is
// complete, and returns the '\n' index relative to r.r, or -1. The error is
// non-nil only when the stream ended (or failed) before either happened.
func (r *Reader) findNewline(from, to int) (int, error) {
	scanned := from
	for {
		avail := min(r.w-r.r, to)
		if avail > scanned {
			if i := bytes.IndexByte(r.buf[r.r+scanned:r.r+avail], '\n'); i >= 0 {
				return scanned + i, nil
			}
			scanned = avail
		}
		if avail >= to {
			return -1, nil
		}
		if r.rerr != nil {
			return -1, r.rerr
		}
		r.makeRoom(to)
		r.fill()
	}
}

// ensure buffers at least n (<= r.limit) unread bytes.
func (r *Reader) ensure(n int) error {
	for r.w-r.r < n {
		if r.rerr != nil {
			return r.rerr
		}
		r.makeRoom(n)
		r.fill()
	}
	return nil
}

// Buffered is the number of bytes read from the stream and not yet decoded.
// Zero means the next Next reads from the stream and may block, so a caller
// that batches should hand its batch on first.
func (r *Reader) Buffered() int { return r.w - r.r }

// Shrink gives back a buffer that a long message grew beyond keep bytes,
// when nothing is buffered: a stream that has gone quiet should not hold
// the memory of its longest message.
func (r *Reader) Shrink(keep int) {
	if r.r == r.w && len(r.buf) > keep {
		r.buf = make([]byte, min(initialBufSize, r.limit))
		r.r, r.w = 0, 0
	}
}

// makeRoom makes buf[r.r:] at least n bytes long, moving unread bytes to the
// front or growing the buffer (never beyond r.limit).
func (r *Reader) makeRoom(n int) {
	if r.r+n <= len(r.buf) {
		return
	}
	if n <= len(r.buf) {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
		return
	}
	nb := make([]byte, min(max(2*len(r.buf), n), r.limit))
	r.w = copy(nb, r.buf[r.r:r.w])
	r.r = 0
	r.buf = nb
}

// fill reads once into the free end of buf.
func (r *Reader) fill() {
	for range 100 {
		n, err := r.rd.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			r.rerr = fmt.Errorf("decode: reader returned invalid count %d", n)
			return
		}
		r.w += n
		if err != nil {
			r.rerr = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.rerr = io.ErrNoProgress
}

// fail turns a read error into Next's sticky error. io.EOF stays io.EOF when
// no byte of the next message has been read.
func (r *Reader) fail(err error, where string) error {
	switch {
	case err == io.EOF && r.w == r.r:
		r.err = io.EOF
	case err == io.EOF:
		r.err = fmt.Errorf("decode: stream ended inside %s (%d bytes at offset %d): %w",
			where, r.w-r.r, r.off, io.ErrUnexpectedEOF)
	default:
		r.err = fmt.Errorf("decode: read at offset %d: %w", r.off+int64(r.w-r.r), err)
	}
	return r.err
}
