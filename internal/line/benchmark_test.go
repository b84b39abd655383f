package line

import (
	"bytes"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/streamtest"
	"strings"
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
)

// BenchmarkAssemblerSingle: one 100-byte frame per line (zero-copy path).
func BenchmarkAssemblerSingle(b *testing.B) {
	a := &Assembler{MaxSize: 1 << 20, TrimCR: true}
	f := fr(out, 1, strings.Repeat("m", 99)+"\r")
	b.ReportAllocs()
	b.SetBytes(int64(len(f.Payload)))
	for range b.N {
		if _, ok := a.Add(f); !ok {
			b.Fatal("no line")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkAssemblerMerged: a 40 KiB line in Docker's three parts
// (16 KiB + 16 KiB + rest); one op is one line.
func BenchmarkAssemblerMerged(b *testing.B) {
	a := &Assembler{MaxSize: 1 << 20}
	parts := []decode.Frame{pt(out, 1, a16k), pt(out, 1, a16k), fr(out, 1, strings.Repeat("r", 8<<10))}
	b.ReportAllocs()
	b.SetBytes(int64(2*len(a16k) + 8<<10))
	for range b.N {
		for _, f := range parts {
			a.Add(f)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkPipeline: decode (multiplexed, in memory) and assemble 100-byte
// lines; one op is one line.
func BenchmarkPipeline(b *testing.B) {
	frame := muxFrame(1, ts0+" "+strings.Repeat("m", 68)+"\n")
	r := decode.NewMuxReader(streamtest.Repeat(bytes.Repeat(frame, 1000)), 0)
	a := &Assembler{MaxSize: 1 << 20}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for range b.N {
		f, err := r.Next()
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := a.Add(f); !ok {
			b.Fatal("no line")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
