package batch_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/batch"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
)

func resource(name string) pcommon.Resource {
	r := pcommon.NewResource()
	r.Attributes().PutStr("container.name", name)
	r.Attributes().PutStr("container.id", name+"-id")
	return r
}

// only returns the single ScopeLogs of ld, failing unless the batch has the
// shape the builder promises: one ResourceLogs, one ScopeLogs.
func only(t *testing.T, ld plog.Logs) (plog.ResourceLogs, plog.ScopeLogs) {
	t.Helper()
	if n := ld.ResourceLogs().Len(); n != 1 {
		t.Fatalf("ResourceLogs: got %d, want 1", n)
	}
	rl := ld.ResourceLogs().At(0)
	if n := rl.ScopeLogs().Len(); n != 1 {
		t.Fatalf("ScopeLogs: got %d, want 1", n)
	}
	return rl, rl.ScopeLogs().At(0)
}

func containerName(t *testing.T, rl plog.ResourceLogs) string {
	t.Helper()
	v, ok := rl.Resource().Attributes().Get("container.name")
	if !ok {
		t.Fatal("resource has no container.name")
	}
	return v.Str()
}

func TestAppendTake(t *testing.T) {
	b := batch.New("scope.name", "1.2.3")
	b.SetResource(resource("web"))
	if b.Len() != 0 || b.Bytes() != 0 {
		t.Fatalf("new builder: Len %d Bytes %d, want 0 0", b.Len(), b.Bytes())
	}

	lines := []struct {
		l        line.Line
		observed pcommon.Timestamp
	}{
		{line.Line{Timestamp: 1_700_000_000_000_000_001, Stream: decode.Stdout, Body: []byte("hello"), Parts: 1}, 1_700_000_001_000_000_000},
		{line.Line{Timestamp: 1_700_000_000_000_000_002, Stream: decode.Stderr, Body: []byte("oops: ünïcödé"), Parts: 1}, 1_700_000_001_000_000_001},
		{line.Line{Timestamp: 1_700_000_000_000_000_002, Stream: decode.Stdout, Body: []byte(""), Parts: 1}, 1_700_000_001_000_000_002},
	}
	wantBytes := 0
	for _, x := range lines {
		b.Append(x.l, x.observed)
		wantBytes += len(x.l.Body)
	}
	if b.Len() != len(lines) || b.Bytes() != wantBytes {
		t.Fatalf("Len %d Bytes %d, want %d %d", b.Len(), b.Bytes(), len(lines), wantBytes)
	}

	ld := b.Take()
	if b.Len() != 0 || b.Bytes() != 0 {
		t.Fatalf("after Take: Len %d Bytes %d, want 0 0", b.Len(), b.Bytes())
	}
	if ld.LogRecordCount() != len(lines) {
		t.Fatalf("LogRecordCount %d, want %d", ld.LogRecordCount(), len(lines))
	}
	rl, sl := only(t, ld)
	if got := containerName(t, rl); got != "web" {
		t.Errorf("container.name %q, want web", got)
	}
	if rl.Resource().Attributes().Len() != 2 {
		t.Errorf("resource attributes %v, want exactly container.name and container.id", rl.Resource().Attributes().AsRaw())
	}
	if sl.Scope().Name() != "scope.name" || sl.Scope().Version() != "1.2.3" {
		t.Errorf("scope %q %q, want scope.name 1.2.3", sl.Scope().Name(), sl.Scope().Version())
	}
	for i, x := range lines {
		r := sl.LogRecords().At(i)
		if r.Timestamp() != pcommon.Timestamp(x.l.Timestamp) {
			t.Errorf("record %d: Timestamp %d, want %d", i, r.Timestamp(), x.l.Timestamp)
		}
		if r.ObservedTimestamp() != x.observed {
			t.Errorf("record %d: ObservedTimestamp %d, want %d", i, r.ObservedTimestamp(), x.observed)
		}
		if r.Body().Type() != pcommon.ValueTypeStr || r.Body().Str() != string(x.l.Body) {
			t.Errorf("record %d: body %v %q, want string %q", i, r.Body().Type(), r.Body().AsString(), x.l.Body)
		}
		want := map[string]any{batch.AttrIOStream: x.l.Stream.String()}
		if got := r.Attributes().AsRaw(); !equalMaps(got, want) {
			t.Errorf("record %d: attributes %v, want %v", i, got, want)
		}
	}

	// The next batch starts empty but keeps resource and scope.
	b.Append(line.Line{Timestamp: 5, Stream: decode.Stdout, Body: []byte("next")}, 6)
	ld2 := b.Take()
	rl2, sl2 := only(t, ld2)
	if got := containerName(t, rl2); got != "web" {
		t.Errorf("second batch container.name %q, want web", got)
	}
	if sl2.Scope().Name() != "scope.name" || sl2.Scope().Version() != "1.2.3" {
		t.Errorf("second batch scope %q %q", sl2.Scope().Name(), sl2.Scope().Version())
	}
	if sl2.LogRecords().Len() != 1 || sl2.LogRecords().At(0).Body().Str() != "next" {
		t.Errorf("second batch records: %d", sl2.LogRecords().Len())
	}
	// The first batch is untouched by what followed.
	if ld.LogRecordCount() != len(lines) {
		t.Errorf("first batch changed: %d records", ld.LogRecordCount())
	}
}

func TestTakeEmpty(t *testing.T) {
	b := batch.New("s", "v")
	ld := b.Take()
	_, sl := only(t, ld)
	if sl.LogRecords().Len() != 0 {
		t.Errorf("records %d, want 0", sl.LogRecords().Len())
	}
	if sl.Scope().Name() != "s" || sl.Scope().Version() != "v" {
		t.Errorf("scope %q %q", sl.Scope().Name(), sl.Scope().Version())
	}
}

func TestAppendCopiesBody(t *testing.T) {
	b := batch.New("s", "v")
	buf := []byte("original")
	b.Append(line.Line{Timestamp: 1, Stream: decode.Stdout, Body: buf}, 2)
	copy(buf, "XXXXXXXX")
	_, sl := only(t, b.Take())
	if got := sl.LogRecords().At(0).Body().Str(); got != "original" {
		t.Errorf("body %q after the caller reused its buffer, want %q", got, "original")
	}
}

func TestInvalidUTF8(t *testing.T) {
	const R = "\uFFFD"
	for _, tc := range []struct {
		name, in, want string
	}{
		{"one bad byte", "a\xffb", "a" + R + "b"},
		{"two bad bytes", "\xff\xfe", R + R},
		{"truncated 3-byte rune", "x\xe2\x82", "x" + R + R},
		{"truncated 4-byte rune mid text", "a\xf0\x9f\x98b", "a" + R + R + R + "b"},
		{"lone continuation bytes", "\x80\x80\x80", R + R + R},
		{"overlong encoding", "\xc0\xaf", R + R},
		{"surrogate", "\xed\xa0\x80", R + R + R},
		{"valid runes kept", "é\xff€\xfe😀", "é" + R + "€" + R + "😀"},
		{"bad byte at end", "text\xff", "text" + R},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := batch.New("s", "v")
			b.Append(line.Line{Timestamp: 1, Stream: decode.Stderr, Body: []byte(tc.in)}, 2)
			if b.Bytes() != len(tc.in) {
				t.Errorf("Bytes %d, want the input length %d", b.Bytes(), len(tc.in))
			}
			_, sl := only(t, b.Take())
			r := sl.LogRecords().At(0)
			got := r.Body().Str()
			if got != tc.want {
				t.Errorf("body %q, want %q", got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("body %q is not valid UTF-8", got)
			}
			want := map[string]any{batch.AttrIOStream: "stderr", batch.AttrInvalidUTF8: true}
			if got := r.Attributes().AsRaw(); !equalMaps(got, want) {
				t.Errorf("attributes %v, want %v", got, want)
			}
		})
	}
}

func TestValidUTF8HasNoMarker(t *testing.T) {
	// U+FFFD itself is valid text: no invalid_utf8 attribute.
	for _, in := range []string{"plain", "\uFFFD", "日本語 😀", ""} {
		b := batch.New("s", "v")
		b.Append(line.Line{Timestamp: 1, Stream: decode.Stdout, Body: []byte(in)}, 2)
		_, sl := only(t, b.Take())
		r := sl.LogRecords().At(0)
		if _, ok := r.Attributes().Get(batch.AttrInvalidUTF8); ok {
			t.Errorf("%q: has %s", in, batch.AttrInvalidUTF8)
		}
		if r.Body().Str() != in {
			t.Errorf("body %q, want %q", r.Body().Str(), in)
		}
	}
}

func TestTruncated(t *testing.T) {
	b := batch.New("s", "v")
	b.Append(line.Line{Timestamp: 1, Stream: decode.Stdout, Body: []byte("cut sho"), Truncated: true, Parts: 3}, 2)
	b.Append(line.Line{Timestamp: 2, Stream: decode.Stdout, Body: []byte("\xffbad and cut"), Truncated: true}, 3)
	b.Append(line.Line{Timestamp: 3, Stream: decode.Stdout, Body: []byte("whole")}, 4)
	_, sl := only(t, b.Take())
	want := []map[string]any{
		{batch.AttrIOStream: "stdout", batch.AttrTruncated: true},
		{batch.AttrIOStream: "stdout", batch.AttrTruncated: true, batch.AttrInvalidUTF8: true},
		{batch.AttrIOStream: "stdout"},
	}
	for i, w := range want {
		if got := sl.LogRecords().At(i).Attributes().AsRaw(); !equalMaps(got, w) {
			t.Errorf("record %d: attributes %v, want %v", i, got, w)
		}
	}
}

func TestSetResourceMidStream(t *testing.T) {
	b := batch.New("s", "v")
	b.SetResource(resource("old"))
	b.Append(line.Line{Timestamp: 1, Stream: decode.Stdout, Body: []byte("a")}, 1)
	first := b.Take()

	b.Append(line.Line{Timestamp: 2, Stream: decode.Stdout, Body: []byte("b")}, 2)
	// A rename while a batch is being built applies to that batch too.
	res := resource("new")
	b.SetResource(res)
	b.Append(line.Line{Timestamp: 3, Stream: decode.Stdout, Body: []byte("c")}, 3)
	// The builder copied the resource: later changes to res do not leak in.
	res.Attributes().PutStr("container.name", "mutated")
	res.Attributes().PutStr("extra", "x")
	second := b.Take()

	b.Append(line.Line{Timestamp: 4, Stream: decode.Stdout, Body: []byte("d")}, 4)
	third := b.Take()

	// A later SetResource does not touch batches already taken.
	b.SetResource(resource("newest"))

	for _, tc := range []struct {
		name string
		ld   plog.Logs
		want string
		recs int
	}{{"first", first, "old", 1}, {"second", second, "new", 2}, {"third", third, "new", 1}} {
		rl, sl := only(t, tc.ld)
		if got := containerName(t, rl); got != tc.want {
			t.Errorf("%s batch: container.name %q, want %q", tc.name, got, tc.want)
		}
		if _, ok := rl.Resource().Attributes().Get("extra"); ok {
			t.Errorf("%s batch: caller's later change leaked into the resource", tc.name)
		}
		if sl.LogRecords().Len() != tc.recs {
			t.Errorf("%s batch: %d records, want %d", tc.name, sl.LogRecords().Len(), tc.recs)
		}
	}
	b.Append(line.Line{Timestamp: 5, Stream: decode.Stdout, Body: []byte("e")}, 5)
	rl, _ := only(t, b.Take())
	if got := containerName(t, rl); got != "newest" {
		t.Errorf("after the last SetResource: container.name %q, want newest", got)
	}
}

func TestSetResourceReplacesAttributes(t *testing.T) {
	b := batch.New("s", "v")
	r1 := pcommon.NewResource()
	r1.Attributes().PutStr("only.in.first", "1")
	r1.Attributes().PutStr("container.name", "a")
	b.SetResource(r1)
	b.SetResource(resource("b"))
	b.Append(line.Line{Timestamp: 1, Stream: decode.Stdout, Body: []byte("x")}, 1)
	rl, _ := only(t, b.Take())
	if _, ok := rl.Resource().Attributes().Get("only.in.first"); ok {
		t.Errorf("attribute of the replaced resource survived: %v", rl.Resource().Attributes().AsRaw())
	}
	b.Append(line.Line{Timestamp: 1, Stream: decode.Stdout, Body: []byte("y")}, 1)
	rl, _ = only(t, b.Take())
	if _, ok := rl.Resource().Attributes().Get("only.in.first"); ok {
		t.Errorf("next batch: attribute of the replaced resource survived: %v", rl.Resource().Attributes().AsRaw())
	}
}

func TestTakenBatchIsOwnedByCaller(t *testing.T) {
	b := batch.New("s", "v")
	b.SetResource(resource("web"))
	b.Append(line.Line{Timestamp: 1, Stream: decode.Stdout, Body: []byte("a")}, 1)
	ld := b.Take()
	// The consumer may mutate what it was handed.
	rl, sl := only(t, ld)
	rl.Resource().Attributes().PutStr("container.name", "changed by consumer")
	sl.LogRecords().At(0).Body().SetStr(strings.Repeat("z", 10))
	b.Append(line.Line{Timestamp: 2, Stream: decode.Stdout, Body: []byte("b")}, 2)
	rl2, sl2 := only(t, b.Take())
	if got := containerName(t, rl2); got != "web" {
		t.Errorf("next batch container.name %q, want web", got)
	}
	if got := sl2.LogRecords().At(0).Body().Str(); got != "b" {
		t.Errorf("next batch body %q, want b", got)
	}
}

func equalMaps(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
