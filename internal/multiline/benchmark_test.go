package multiline

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/batch"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/streamtest"
)

// BenchmarkGrouper measures one line per op (ns/op is ns/line, allocs/op
// is allocs/line): "off" is the caller without a Grouper, the baseline;
// "auto/plain" is auto mode on ordinary lines (they pass through);
// "auto/fixture" the six languages' traces interleaved with ordinary lines;
// the pattern cases group ordinary lines, 1 in 4 starting (or ending) a record.
func BenchmarkGrouper(b *testing.B) {
	plain := []string{
		`{"level":"info","ts":"2026-12-03T10:15:00.002Z","msg":"request done","status":200,"ms":3}`,
		`10.0.3.1 - - [03/Dec/2026:10:15:00 +0000] "GET /api/cart HTTP/1.1" 200 512 "-" "curl/8.5.0"`,
		`2026-12-03 10:15:02.118  INFO 1 --- [nio-8080-exec-3] c.e.shop.web.OrderController : Order 4711 ok`,
		`I, [2026-12-03T10:15:10.004512 #1]  INFO -- : importing orders.csv`,
	}
	var fixture []string
	for _, s := range readFixture(b, "auto.txt") {
		if s.stream == decode.Stderr {
			fixture = append(fixture, s.text)
		}
	}
	patterned := make([]string, 0, 8)
	for i := range 8 {
		if i%4 == 0 {
			patterned = append(patterned, "2026-12-03 10:15:00.000 ERROR request failed;")
		} else {
			patterned = append(patterned, "    detail "+strings.Repeat("x", 60))
		}
	}
	for _, bc := range []struct {
		name  string
		cfg   Config
		lines []string
	}{
		{"off", Config{}, plain},
		{"auto/plain", Config{Mode: ModeAuto}, plain},
		{"auto/fixture", Config{Mode: ModeAuto}, fixture},
		{"line_start", Config{LineStartPattern: `^\d{4}-\d{2}-\d{2} `}, patterned},
		{"line_end", Config{LineEndPattern: `;$`}, patterned},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ls := make([]line.Line, len(bc.lines))
			for i, s := range bc.lines {
				ls[i] = line.Line{Timestamp: int64(i + 1), Stream: decode.Stderr, Body: []byte(s), Parts: 1}
			}
			var g *Grouper
			if bc.cfg.Enabled() {
				g = mustCompile(b, bc.cfg).NewGrouper()
			}
			var records, bytes int
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				l := ls[i%len(ls)]
				if g == nil {
					records++
					bytes += len(l.Body)
					continue
				}
				for _, r := range g.Add(l) {
					records++
					bytes += len(r.Body)
				}
			}
			if records == 0 && b.N > 10*len(ls) {
				b.Fatal("no records")
			}
			b.ReportMetric(float64(b.N)/float64(max(records, 1)), "lines/record")
		})
	}
}

// pipelineInput is an in-memory multiplexed logs response like dockerd's:
// blocks of 185 ordinary 100-byte Spring Boot log lines (each starts with
// its date) and the fixture's 15-line Java trace (auto.txt's
// IllegalStateException), stamped 1 µs apart, all on stderr. It returns
// the frames and the number of lines.
func pipelineInput(b *testing.B, blocks int) ([]byte, int) {
	var trace []string
	for _, s := range readFixture(b, "auto.txt") {
		if s.stream == decode.Stderr && (len(trace) > 0 || strings.HasPrefix(s.text, "java.lang.IllegalStateException")) {
			if len(trace) > 0 && s.starts {
				break
			}
			trace = append(trace, s.text)
		}
	}
	var block []string
	for i := range 185 {
		s := fmt.Sprintf("2026-12-03 10:15:02.%03d  INFO 1 --- [nio-8080-exec-3] c.e.shop.web.OrderController : ", i)
		block = append(block, s+strings.Repeat("x", 100-len(s)))
	}
	block = append(block, trace...)
	t0 := time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC)
	var out []byte
	n := 0
	for range blocks {
		for _, s := range block {
			p := t0.Add(time.Duration(n)*time.Microsecond).AppendFormat(nil, "2006-01-02T15:04:05.000000000Z07:00")
			p = append(append(append(p, ' '), s...), '\n')
			var h [8]byte
			h[0] = byte(decode.Stderr)
			binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
			out = append(append(out, h[:]...), p...)
			n++
		}
	}
	return out, n
}

// BenchmarkPipeline is the receiver's per-line CPU work without I/O, as
// internal/batch's BenchmarkDecodePath, with grouping: frames from memory
// through decode.Reader, line.Assembler, a Grouper (as the follower uses
// it: with a time.Now() per line for the flush deadline) and the batch
// builder into pdata records. One op is one input line. The same input
// for each case: "off" (no Grouper), "pattern" (line_start_pattern
// `^\d{4}-\d{2}-\d{2} `: the trace joins the log line before it) and
// "auto" (the trace is one record). Run it with -cpu=1.
func BenchmarkPipeline(b *testing.B) {
	in, lines := pipelineInput(b, 10)
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"off", Config{}},
		{"pattern", Config{LineStartPattern: `^\d{4}-\d{2}-\d{2} `}},
		{"auto", Config{Mode: ModeAuto}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dec := decode.NewMuxReader(streamtest.Repeat(in), 0)
			var asm line.Assembler
			out := batch.New("bench", "v0")
			var g *Grouper
			if bc.cfg.Enabled() {
				g = mustCompile(b, bc.cfg).NewGrouper()
			}
			observed := pcommon.Timestamp(0)
			var records, batches int
			var last time.Time
			emit := func(l line.Line) {
				if g == nil {
					out.Append(l, observed)
					records++
					return
				}
				last = time.Now()
				for _, r := range g.Add(l) {
					out.Append(r.Line, observed)
					records++
				}
			}
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
					emit(l)
				}
				if l, ok := asm.Add(fr); ok {
					emit(l)
				}
				if dec.Buffered() == 0 || out.Len() >= 8192 {
					observed = 0
					if out.Len() > 0 {
						_ = out.Take()
						batches++
					}
				}
			}
			_ = last
			b.ReportMetric(float64(b.N)/float64(max(records, 1)), "lines/record")
			if b.N >= 10*lines && records == 0 {
				b.Fatal("no records")
			}
		})
	}
}
