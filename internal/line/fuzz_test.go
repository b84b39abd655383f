package line

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
)

// FuzzAssembler drives an Assembler with frames decoded from data and checks
// every result against a model that keeps whole lines in memory.
//
// Each op is a control byte c and up to c>>3 payload bytes: c&1 picks stderr,
// c&2 means Flush instead of Add, c&4 marks the frame partial.
func FuzzAssembler(f *testing.F) {
	f.Add([]byte("\x2cabcde\x2bfgh\x28ij\x02\x04"), uint8(4), true)
	f.Add([]byte("\x1c\xe2\x82\xac\x1d\xf0\x9f\x1cz\r\x18\r\x03"), uint8(2), false)
	f.Add([]byte("\x0c\r\x00\x0d\x01\x09x\x02\x03"), uint8(0), true)
	f.Fuzz(func(t *testing.T, data []byte, maxSize uint8, trimCR bool) {
		a := &Assembler{MaxSize: 1 + int(maxSize)%64, TrimCR: trimCR}
		var m model
		m.max, m.trimCR = a.MaxSize, trimCR
		for ts := int64(1); len(data) > 0; ts++ {
			c := data[0]
			n := min(int(c>>3), len(data)-1)
			payload := data[1 : 1+n]
			data = data[1+n:]
			s := decode.Stdout
			if c&1 != 0 {
				s = decode.Stderr
			}
			var got Line
			var ok bool
			var want *Line
			if c&2 != 0 {
				got, ok = a.Flush(s)
				want = m.flush(s)
			} else {
				fr := decode.Frame{Timestamp: ts, Stream: s, Payload: payload, Partial: c&4 != 0}
				got, ok = a.Add(fr)
				want = m.add(fr)
			}
			if ok != (want != nil) || (ok && !equal(got, *want)) {
				w := "none"
				if want != nil {
					w = show(*want)
				}
				t.Fatalf("op %#x: got %v %s, want %s", c, ok, show(got), w)
			}
			if ok && got.Truncated && utf8.Valid(m.last) && !utf8.Valid(got.Body) {
				t.Fatalf("truncation of valid UTF-8 %q gave invalid %q", m.last, got.Body)
			}
			for i, st := range a.st {
				if cap(st.buf) > a.MaxSize {
					t.Fatalf("stream %d buffers %d bytes, MaxSize %d", i, cap(st.buf), a.MaxSize)
				}
			}
			if a.Pending() != m.pending() || discarding(a, s) != m.st[s-1].discarding {
				t.Fatalf("Pending=%v Discarding=%v, model %v %v", a.Pending(), discarding(a, s),
					m.pending(), m.st[s-1].discarding)
			}
		}
	})
}

// model is a reference Assembler that keeps every unfinished line whole.
type model struct {
	max    int
	trimCR bool
	st     [2]struct {
		acc        []byte
		ts         int64
		parts      int
		discarding bool
	}
	last []byte // the whole text behind the last truncated line
}

func (m *model) pending() bool { return m.st[0].parts > 0 || m.st[1].parts > 0 }

func (m *model) add(f decode.Frame) *Line {
	st := &m.st[f.Stream-1]
	if st.discarding {
		st.discarding = f.Partial
		return nil
	}
	if st.parts == 0 {
		st.acc, st.ts = nil, f.Timestamp
	}
	st.parts++
	st.acc = append(st.acc, f.Payload...)
	body := st.acc
	if !f.Partial && m.trimCR && bytes.HasSuffix(body, []byte("\r")) {
		body = body[:len(body)-1]
	}
	l := &Line{Timestamp: st.ts, Stream: f.Stream, Body: body, Parts: st.parts}
	switch {
	case len(body) > m.max:
		m.last = body
		l.Body, l.Truncated = refCut(body, m.max), true
		st.discarding = f.Partial
	case f.Partial:
		return nil
	}
	st.parts = 0
	return l
}

func (m *model) flush(s decode.Stream) *Line {
	st := &m.st[s-1]
	st.discarding = false
	if st.parts == 0 {
		return nil
	}
	l := &Line{Timestamp: st.ts, Stream: s, Body: st.acc, Parts: st.parts}
	st.parts = 0
	return l
}

// refCut keeps the first max bytes of b, minus the start of a multi-byte
// character that continues validly (or may continue: b ends) past max.
func refCut(b []byte, max int) []byte {
	for j := max - 1; j >= 0 && j >= max-3; j-- {
		if !utf8.RuneStart(b[j]) {
			continue
		}
		seq := b[j:min(len(b), j+utf8.UTFMax)]
		if _, size := utf8.DecodeRune(seq); !utf8.FullRune(seq) || (size > 1 && j+size > max) {
			return b[:j]
		}
		break
	}
	return b[:max]
}
