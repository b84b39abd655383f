// Package batch turns assembled log lines of one container into pdata logs:
// one ResourceLogs for the container, one ScopeLogs, many records.
package batch // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/batch"

import (
	"unicode/utf8"

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

// Builder accumulates records for one container. It is not safe for
// concurrent use.
type Builder struct {
	scopeName, scopeVersion string
	resource                pcommon.Resource // template copied into each batch
	logs                    plog.Logs
	records                 plog.LogRecordSlice
	bytes                   int
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
}

// Append adds one line. The line's body is copied.
func (b *Builder) Append(l line.Line, observed pcommon.Timestamp) {
	r := b.records.AppendEmpty()
	r.SetTimestamp(pcommon.Timestamp(l.Timestamp))
	r.SetObservedTimestamp(observed)
	attrs := r.Attributes()
	attrs.EnsureCapacity(1)
	attrs.PutStr(AttrIOStream, l.Stream.String())
	if utf8.Valid(l.Body) {
		r.Body().SetStr(string(l.Body))
	} else {
		r.Body().SetStr(string(toValidUTF8(l.Body)))
		attrs.PutBool(AttrInvalidUTF8, true)
	}
	if l.Truncated {
		attrs.PutBool(AttrTruncated, true)
	}
	b.bytes += len(l.Body)
}

// toValidUTF8 replaces each invalid byte with U+FFFD, so the body keeps one
// marker per bad byte and the rest of the text unchanged.
func toValidUTF8(p []byte) []byte {
	out := make([]byte, 0, len(p)+8)
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, p[:n]...)
		}
		p = p[n:]
	}
	return out
}

// Len is the number of records in the current batch.
func (b *Builder) Len() int { return b.records.Len() }

// Bytes is the body bytes in the current batch.
func (b *Builder) Bytes() int { return b.bytes }

// Take returns the current batch and starts a new one. The caller owns the
// returned logs.
func (b *Builder) Take() plog.Logs {
	ld := b.logs
	b.reset()
	return ld
}
