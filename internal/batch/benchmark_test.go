package batch_test

import (
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/batch"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
)

// BenchmarkAppend measures adding one 100-byte line, with a batch taken
// every 8,192 records as the follower does.
func BenchmarkAppend(b *testing.B) {
	const maxBatch = 8192
	body := []byte(strings.Repeat("0123456789", 10))
	l := line.Line{Timestamp: 1_700_000_000_000_000_000, Stream: decode.Stdout, Body: body, Parts: 1}
	bl := batch.New("bench", "v0")
	res := pcommon.NewResource()
	res.Attributes().PutStr("container.name", "web")
	bl.SetResource(res)
	observed := pcommon.Timestamp(1_700_000_000_000_000_001)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		bl.Append(l, observed)
		if bl.Len() >= maxBatch {
			_ = bl.Take()
		}
	}
}
