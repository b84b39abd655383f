package multiline

import (
	"strings"
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
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
