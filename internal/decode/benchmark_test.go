package decode

import (
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/streamtest"
	"strings"
	"testing"
)

// benchLine is a 100-byte message: Docker's 30-byte timestamp, a space, 68
// bytes of text and '\n'.
var benchLine = ts0 + " " + strings.Repeat("m", 68) + "\n"

func benchmarkReader(b *testing.B, r *Reader, frameSize int) {
	b.ReportAllocs()
	b.SetBytes(int64(frameSize))
	b.ResetTimer()
	for range b.N {
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkMuxReader decodes 100-byte lines from an in-memory stream; one op
// is one line.
func BenchmarkMuxReader(b *testing.B) {
	var in []byte
	for range 1000 {
		in = append(in, frame(1, benchLine)...)
	}
	benchmarkReader(b, NewMuxReader(streamtest.Repeat(in), 0), headerLen+len(benchLine))
}

// BenchmarkRawReader decodes 100-byte TTY lines; one op is one line.
func BenchmarkRawReader(b *testing.B) {
	in := []byte(strings.Repeat(benchLine, 1000))
	benchmarkReader(b, NewRawReader(streamtest.Repeat(in), 0), len(benchLine))
}

func BenchmarkParseTimestamp(b *testing.B) {
	ts := []byte(ts0)
	b.ReportAllocs()
	for range b.N {
		if _, err := ParseTimestamp(ts); err != nil {
			b.Fatal(err)
		}
	}
}
