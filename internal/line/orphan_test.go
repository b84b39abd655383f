package line

import (
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
)

func TestOrphanEndsALineWhoseEndWasLost(t *testing.T) {
	var a Assembler
	part := decode.Frame{Timestamp: 10, Stream: decode.Stdout, Payload: []byte("head"), Partial: true}
	if _, ok := a.Orphan(part); ok {
		t.Fatal("orphan reported without a pending line")
	}
	a.Add(part)
	cont := decode.Frame{Timestamp: 10, Stream: decode.Stdout, Payload: []byte("more"), Partial: true}
	if _, ok := a.Orphan(cont); ok {
		t.Fatal("a continuation with the same timestamp was cut off")
	}
	a.Add(cont)
	other := decode.Frame{Timestamp: 10, Stream: decode.Stderr, Payload: []byte("err")}
	if _, ok := a.Orphan(other); ok {
		t.Fatal("a frame of the other stream cut the line off")
	}
	next := decode.Frame{Timestamp: 11, Stream: decode.Stdout, Payload: []byte("next")}
	l, ok := a.Orphan(next)
	if !ok || string(l.Body) != "headmore" || l.Truncated || l.Timestamp != 10 || l.Parts != 2 {
		t.Fatalf("orphan = %+v, %v", l, ok)
	}
	if l, ok := a.Add(next); !ok || string(l.Body) != "next" || a.Pending() {
		t.Fatalf("the next line was not assembled on its own: %+v", l)
	}
}

func TestOrphanStopsDiscarding(t *testing.T) {
	a := Assembler{MaxSize: 4}
	if l, ok := a.Add(decode.Frame{Timestamp: 10, Stream: decode.Stdout, Payload: []byte("0123456789"), Partial: true}); !ok || !l.Truncated {
		t.Fatal("no truncated line")
	}
	next := decode.Frame{Timestamp: 12, Stream: decode.Stdout, Payload: []byte("ok")}
	if _, ok := a.Orphan(next); ok || discarding(&a, decode.Stdout) {
		t.Fatal("discarding went on past a new line")
	}
	if l, ok := a.Add(next); !ok || string(l.Body) != "ok" {
		t.Fatalf("got %+v", l)
	}
}

func TestContinuationsShareTimestamp(t *testing.T) {
	if ContinuationsShareTimestamp("journald") || !ContinuationsShareTimestamp("json-file") || !ContinuationsShareTimestamp("local") {
		t.Fatal("wrong driver rule")
	}
}

func discarding(a *Assembler, s decode.Stream) bool {
	on, _ := a.Discarding(s)
	return on
}

func TestSetDiscardingKeepsTheDroppedLinesTimestamp(t *testing.T) {
	var a Assembler
	a.SetDiscarding(decode.Stdout, true, 10)
	rest := decode.Frame{Timestamp: 10, Stream: decode.Stdout, Payload: []byte("rest"), Partial: true}
	if _, ok := a.Orphan(rest); ok || !discarding(&a, decode.Stdout) {
		t.Fatal("a part of the dropped line ended the dropping")
	}
	if _, ok := a.Add(rest); ok {
		t.Fatal("a part of the dropped line was emitted")
	}
	last := decode.Frame{Timestamp: 10, Stream: decode.Stdout, Payload: []byte("end")}
	if _, ok := a.Add(last); ok || discarding(&a, decode.Stdout) {
		t.Fatal("the last part did not end the dropping")
	}
}
