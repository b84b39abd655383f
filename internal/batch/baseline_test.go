package batch_test

// baselineBuilder is batch.Builder as it was before the arena (commit
// 3a57535), kept verbatim (renamed) so that benchmarks can measure the
// two side by side in the same run on a shared machine. Test-only.

import (
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/batch"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
)

// baselineBuilder accumulates records for one container. It is not safe for
// concurrent use.
type baselineBuilder struct {
	scopeName, scopeVersion string
	resource                pcommon.Resource // template copied into each batch
	logs                    plog.Logs
	records                 plog.LogRecordSlice
	bytes                   int
}

// New returns a baselineBuilder whose records carry the given instrumentation scope.
func newBaseline(scopeName, scopeVersion string) *baselineBuilder {
	b := &baselineBuilder{scopeName: scopeName, scopeVersion: scopeVersion, resource: pcommon.NewResource()}
	b.reset()
	return b
}

// SetResource sets the resource of the current and later batches.
func (b *baselineBuilder) SetResource(res pcommon.Resource) {
	res.CopyTo(b.resource)
	res.CopyTo(b.logs.ResourceLogs().At(0).Resource())
}

func (b *baselineBuilder) reset() {
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
func (b *baselineBuilder) Append(l line.Line, observed pcommon.Timestamp) {
	r := b.records.AppendEmpty()
	r.SetTimestamp(pcommon.Timestamp(l.Timestamp))
	r.SetObservedTimestamp(observed)
	attrs := r.Attributes()
	attrs.EnsureCapacity(1)
	attrs.PutStr(batch.AttrIOStream, l.Stream.String())
	if utf8.Valid(l.Body) {
		r.Body().SetStr(string(l.Body))
	} else {
		r.Body().SetStr(string(baselineToValidUTF8(l.Body)))
		attrs.PutBool(batch.AttrInvalidUTF8, true)
	}
	if l.Truncated {
		attrs.PutBool(batch.AttrTruncated, true)
	}
	b.bytes += len(l.Body)
}

// baselineToValidUTF8 replaces each invalid byte with U+FFFD, so the body keeps one
// marker per bad byte and the rest of the text unchanged.
func baselineToValidUTF8(p []byte) []byte {
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
func (b *baselineBuilder) Len() int { return b.records.Len() }

// Bytes is the body bytes in the current batch.
func (b *baselineBuilder) Bytes() int { return b.bytes }

// Take returns the current batch and starts a new one. The caller owns the
// returned logs.
func (b *baselineBuilder) Take() plog.Logs {
	ld := b.logs
	b.reset()
	return ld
}
