package batch_test

import (
	"encoding/binary"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/streamtest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/batch"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
)

// maxBatch is the follower's cap on records per batch (receiver.maxBatch).
const maxBatch = 8192

// appender is what the benchmarks need of a builder: batch.Builder and the
// baselineBuilder (the builder before the arena) both satisfy it, so each
// benchmark runs both side by side, with the same call overhead.
type appender interface {
	Append(line.Line, pcommon.Timestamp)
	Len() int
	Take() plog.Logs
	SetResource(pcommon.Resource)
}

var builders = []struct {
	name string
	new  func() appender
}{
	{"arena", func() appender { return batch.New("bench", "v0") }},
	{"baseline", func() appender { return newBaseline("bench", "v0") }},
}

func benchResource() pcommon.Resource {
	res := pcommon.NewResource()
	res.Attributes().PutStr("container.id", strings.Repeat("0123456789abcdef", 4))
	res.Attributes().PutStr("container.name", "web")
	res.Attributes().PutStr("container.image.name", "nginx:1.27")
	res.Attributes().PutStr("container.runtime.name", "docker")
	return res
}

// BenchmarkAppend measures adding one 100-byte line, with a batch taken
// every 8,192 records as the follower does at most.
func BenchmarkAppend(b *testing.B) {
	for _, bb := range builders {
		b.Run(bb.name, func(b *testing.B) {
			body := []byte(strings.Repeat("0123456789", 10))
			l := line.Line{Timestamp: 1_700_000_000_000_000_000, Stream: decode.Stdout, Body: body, Parts: 1}
			bl := bb.new()
			bl.SetResource(benchResource())
			observed := pcommon.Timestamp(1_700_000_000_000_000_001)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				bl.Append(l, observed)
				if bl.Len() >= maxBatch {
					_ = bl.Take()
				}
			}
		})
	}
}

// decodePathInput is an in-memory multiplexed logs response: n stdcopy
// frames "TS body\n" with 100-byte bodies (140 bytes a frame with the
// 8-byte header, the 30-byte timestamp and its space, and '\n'),
// timestamps 1 µs apart, every tenth line on stderr.
func decodePathInput(n int) []byte {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	body := strings.Repeat("0123456789", 10)
	var out []byte
	for i := range n {
		stream := byte(decode.Stdout)
		if i%10 == 9 {
			stream = byte(decode.Stderr)
		}
		p := t0.Add(time.Duration(i)*time.Microsecond).AppendFormat(nil, "2006-01-02T15:04:05.000000000Z07:00")
		p = append(p, ' ')
		p = append(p, body...)
		p = append(p, '\n')
		var h [8]byte
		h[0] = stream
		binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
		out = append(out, h[:]...)
		out = append(out, p...)
	}
	return out
}

// BenchmarkDecodePath is the receiver's per-line CPU work without I/O:
// frames from memory through decode.Reader, line.Assembler and the batch
// builder into pdata records, batches taken by the follower's rule (the
// decoder's buffer is drained, or 8,192 records). One op is one 100-byte
// line. Run it with -cpu=1 for the one-core figure.
func BenchmarkDecodePath(b *testing.B) {
	in := decodePathInput(1000)
	frameLen := len(in) / 1000
	for _, bb := range builders {
		b.Run(bb.name, func(b *testing.B) {
			dec := decode.NewMuxReader(streamtest.Repeat(in), 0)
			var asm line.Assembler
			out := bb.new()
			out.SetResource(benchResource())
			batches := 0
			observed := pcommon.Timestamp(0)
			b.SetBytes(int64(frameLen))
			b.ReportAllocs()
			for b.Loop() {
				fr, err := dec.Next()
				if err != nil {
					b.Fatal(err)
				}
				if observed == 0 {
					observed = pcommon.NewTimestampFromTime(time.Now())
				}
				if l, ok := asm.Orphan(fr); ok {
					out.Append(l, observed)
				}
				if l, ok := asm.Add(fr); ok {
					out.Append(l, observed)
				}
				if dec.Buffered() == 0 || out.Len() >= maxBatch {
					observed = 0
					if out.Len() > 0 {
						_ = out.Take()
						batches++
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
			if batches > 0 {
				b.ReportMetric(float64(b.N)/float64(batches), "lines/batch")
			}
		})
	}
}
