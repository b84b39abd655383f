package batch_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/batch"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
)

// randomLine returns a line of a random kind: empty, short, long enough to
// get an allocation of its own (over 16 KiB), invalid UTF-8, truncated, on
// either stream. Its body is in a buffer that the caller reuses, as the
// assembler's is.
func randomLine(r *rand.Rand, buf []byte, ts int64) (line.Line, []byte) {
	buf = buf[:0]
	var n int
	switch k := r.IntN(20); {
	case k == 0:
		n = 0
	case k == 1:
		n = 16<<10 + r.IntN(50<<10)
	default:
		n = r.IntN(300)
	}
	for range n {
		buf = append(buf, byte('a'+r.IntN(26)))
	}
	if n > 0 && r.IntN(10) == 0 {
		buf[r.IntN(n)] = 0xff // invalid UTF-8 (U+FFFD is 3 bytes: the body grows)
	}
	if r.IntN(5) == 0 {
		buf = append(buf, "é日本😀"...)
	}
	stream := decode.Stdout
	if r.IntN(3) == 0 {
		stream = decode.Stderr
	}
	return line.Line{Timestamp: ts, Stream: stream, Body: buf, Truncated: r.IntN(15) == 0, Parts: 1}, buf
}

func marshal(t *testing.T, ld plog.Logs) []byte {
	t.Helper()
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestArenaMatchesBaseline: the arena builder produces exactly what the
// builder before it produced, batch by batch, for lines of every kind,
// batches of every size (chunk boundaries crossed many times) and a
// resource change midway.
func TestArenaMatchesBaseline(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	got, want := batch.New("s", "1"), newBaseline("s", "1")
	got.SetResource(resource("web"))
	want.SetResource(resource("web"))
	var buf []byte
	var l line.Line
	ts := int64(1_700_000_000_000_000_000)
	for b := range 40 {
		if b == 20 {
			got.SetResource(resource("renamed"))
			want.SetResource(resource("renamed"))
		}
		n := r.IntN(2000)
		if b%10 == 0 {
			n = b / 10 // empty and tiny batches too
		}
		for range n {
			ts += int64(r.IntN(1000))
			l, buf = randomLine(r, buf, ts)
			got.Append(l, pcommon.Timestamp(ts+1))
			want.Append(l, pcommon.Timestamp(ts+1))
		}
		if got.Len() != want.Len() || got.Bytes() != want.Bytes() {
			t.Fatalf("batch %d: Len %d Bytes %d, want %d %d", b, got.Len(), got.Bytes(), want.Len(), want.Bytes())
		}
		g, w := marshal(t, got.Take()), marshal(t, want.Take())
		if !bytes.Equal(g, w) {
			t.Fatalf("batch %d of %d lines differs from the baseline builder's:\n got %.300s\nwant %.300s", b, n, g, w)
		}
	}
}

// TestTakenBodiesNeverChange: bodies of a taken batch point into its arena;
// building later batches must never write there. Run with -race: a
// consumer reads the taken batch while the builder fills the next ones.
func TestTakenBodiesNeverChange(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := batch.New("s", "1")
	var buf []byte
	var l line.Line
	var wantBodies []string
	for i := range 5000 {
		l, buf = randomLine(r, buf, int64(i))
		b.Append(l, 1)
		wantBodies = append(wantBodies, string(baselineToValidUTF8(l.Body)))
	}
	first := b.Take()
	records := first.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()

	check := func() {
		for i, want := range wantBodies {
			if got := records.At(i).Body().Str(); got != want {
				t.Errorf("record %d: body changed after Take: %.40q, want %.40q", i, got, want)
				return
			}
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 3 {
			check()
		}
	})
	for i := range 20000 {
		l, buf = randomLine(r, buf, int64(i))
		b.Append(l, 1)
		if b.Len() >= 1000 {
			_ = b.Take()
		}
	}
	wg.Wait()
	check()
}

// TestAppendAllocations guards the allocation count of a 100-byte line:
// the four that pdata's API requires per record (the record, its attribute
// slice, the two string-value wrappers), plus a small share of arena chunks
// and record slots.
func TestAppendAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts: skipped with -short")
	}
	b := batch.New("s", "1")
	b.SetResource(resource("web"))
	l := line.Line{Timestamp: 1, Stream: decode.Stdout, Body: []byte(strings.Repeat("0123456789", 10)), Parts: 1}
	const perBatch = 1000
	allocs := testing.AllocsPerRun(20, func() {
		for range perBatch {
			b.Append(l, 2)
		}
		_ = b.Take()
	}) / perBatch
	if allocs > 4.1 {
		t.Errorf("%.3f allocations per 100-byte line, want at most 4.1", allocs)
	}
	t.Logf("%.3f allocations per 100-byte line (batches of %d)", allocs, perBatch)
}
