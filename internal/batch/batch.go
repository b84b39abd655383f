// Package batch turns assembled log lines of one container into pdata logs:
// one ResourceLogs for the container, one ScopeLogs, many records.
//
// # Memory ownership
//
// Record bodies are not allocated one by one. Append copies each body into
// the batch's arena: a short list of byte chunks that belongs to the batch
// being built, and each record's body is a string that points into it
// (unsafe.String). The rules that make this safe:
//
//   - Bytes are only ever appended to a chunk; bytes a body points to are
//     never written again.
//   - Take hands the batch, and with it every chunk it filled, to the caller
//     and forgets them: the next batch starts new chunks. So once a batch is
//     taken, nothing in this package writes to memory that its strings
//     point to; the consumer may keep, read or share them from any goroutine.
//   - A consumer that replaces a body (Body().SetStr) simply drops its
//     reference; a chunk stays alive while any string points into it, so a
//     record kept long after its batch keeps at most one chunk (maxChunk
//     bytes) alive, or its own allocation for a long body.
package batch // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/batch"

import (
	"unicode/utf8"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
)

// Attribute names set on records.
const (
	AttrIOStream    = "log.iostream"            // stdout or stderr (semantic conventions)
	AttrTruncated   = "docker.log.truncated"    // the line was longer than max_log_size
	AttrInvalidUTF8 = "docker.log.invalid_utf8" // invalid bytes were replaced with U+FFFD
)

// Arena chunk sizes. The first chunk of a batch is small, so that a batch
// of one short line (a quiet container, flushed line by line) costs one
// small allocation as before; each further chunk doubles, up to maxChunk.
// A body longer than maxChunk/4 gets an allocation of its own, so that a
// long line neither wastes the rest of a chunk nor pins a big one.
const (
	minChunk = 512
	maxChunk = 64 << 10
)

// Builder accumulates records for one container. It is not safe for
// concurrent use.
type Builder struct {
	scopeName, scopeVersion string
	resource                pcommon.Resource // template copied into each batch
	logs                    plog.Logs
	records                 plog.LogRecordSlice
	bytes                   int

	// chunk is the arena chunk being filled; it belongs to the current
	// batch (see the package documentation). Bytes are appended, never
	// rewritten; nextChunk is the size of the next chunk.
	chunk     []byte
	nextChunk int
	// scratch holds the U+FFFD-repaired copy of an invalid line before it is
	// copied into the arena; no record points to it.
	scratch []byte
	// lastLen is the previous batch's record count: the next batch reserves
	// that many record slots at its first line instead of growing the slice
	// by doubling (measured: 25% of the decode path's time for 8,192-record
	// batches). Reserving at the first line, not in reset, keeps an idle
	// container's empty batch small.
	lastLen int
}

// New returns a Builder whose records carry the given instrumentation scope.
func New(scopeName, scopeVersion string) *Builder {
	b := &Builder{scopeName: scopeName, scopeVersion: scopeVersion, resource: pcommon.NewResource()}
	b.reset()
	return b
}

// SetResource sets the resource of the current and later batches.
func (b *Builder) SetResource(res pcommon.Resource) {
	res.CopyTo(b.resource)
	res.CopyTo(b.logs.ResourceLogs().At(0).Resource())
}

func (b *Builder) reset() {
	b.logs = plog.NewLogs()
	rl := b.logs.ResourceLogs().AppendEmpty()
	b.resource.CopyTo(rl.Resource())
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(b.scopeName)
	sl.Scope().SetVersion(b.scopeVersion)
	b.records = sl.LogRecords()
	b.bytes = 0
	// The chunks filled so far now belong to the taken batch.
	b.chunk = nil
	b.nextChunk = minChunk
}

// Append adds one line. The line's body is copied (into the batch's arena).
func (b *Builder) Append(l line.Line, observed pcommon.Timestamp) {
	if b.lastLen > 1 && b.records.Len() == 0 {
		b.records.EnsureCapacity(b.lastLen)
	}
	r := b.records.AppendEmpty()
	r.SetTimestamp(pcommon.Timestamp(l.Timestamp))
	r.SetObservedTimestamp(observed)
	valid := utf8.Valid(l.Body)
	attrs := r.Attributes()
	n := 1
	if !valid {
		n++
	}
	if l.Truncated {
		n++
	}
	// One allocation of exactly the size needed (PutStr on an empty map
	// would allocate one slot, and a second attribute would grow it).
	attrs.EnsureCapacity(n)
	// The value is a string constant: PutStr keeps the reference, the
	// text is not copied.
	attrs.PutStr(AttrIOStream, l.Stream.String())
	if valid {
		r.Body().SetStr(b.store(l.Body))
	} else {
		b.scratch = appendValidUTF8(b.scratch[:0], l.Body)
		r.Body().SetStr(b.store(b.scratch))
		if cap(b.scratch) > maxChunk {
			b.scratch = nil // a rare long invalid line: do not keep its buffer
		}
		attrs.PutBool(AttrInvalidUTF8, true)
	}
	if l.Truncated {
		attrs.PutBool(AttrTruncated, true)
	}
	b.bytes += len(l.Body)
}

// store copies p into the arena and returns it as a string that aliases
// the arena. See the package documentation for why that is safe.
func (b *Builder) store(p []byte) string {
	n := len(p)
	if n == 0 {
		return ""
	}
	if n > maxChunk/4 {
		own := make([]byte, n)
		copy(own, p)
		return unsafe.String(unsafe.SliceData(own), n)
	}
	if cap(b.chunk)-len(b.chunk) < n {
		size := b.nextChunk
		for size < n {
			size *= 2
		}
		b.chunk = make([]byte, 0, size)
		b.nextChunk = min(2*size, maxChunk)
	}
	start := len(b.chunk)
	b.chunk = append(b.chunk, p...)
	return unsafe.String(&b.chunk[start], n)
}

// appendValidUTF8 appends p to dst with each invalid byte replaced by
// U+FFFD, so the body keeps one marker per bad byte and the rest of the
// text unchanged.
func appendValidUTF8(dst, p []byte) []byte {
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		if r == utf8.RuneError && n == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, p[:n]...)
		}
		p = p[n:]
	}
	return dst
}

// Len is the number of records in the current batch.
func (b *Builder) Len() int { return b.records.Len() }

// Bytes is the body bytes in the current batch.
func (b *Builder) Bytes() int { return b.bytes }

// Take returns the current batch and starts a new one. The caller owns the
// returned logs, including the arena chunks their bodies point into: the
// Builder never writes to them again.
func (b *Builder) Take() plog.Logs {
	ld := b.logs
	b.lastLen = b.records.Len()
	b.reset()
	return ld
}
