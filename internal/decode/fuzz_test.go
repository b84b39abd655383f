package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
	"time"
)

// FuzzMuxReader checks the mux decoder against a simple reference over the
// whole input, for whole and one-byte reads, and that memory stays bounded.
func FuzzMuxReader(f *testing.F) {
	f.Add(join(frame(1, ts0+" hello\n"), frame(2, ts0+" x"), frame(3, "Error grabbing logs: x\n")), uint16(100))
	f.Add(join(frame(1, "bad\n"), header(1, 1<<31)), uint16(0))
	f.Add(join(frame(0, "2024-05-06T09:08:09.1+02:00 y\n"), []byte{1, 0}), uint16(40))
	f.Fuzz(func(t *testing.T, data []byte, maxFrame uint16) {
		mf := 1 + int(maxFrame)
		want, wantErr := refMux(data, mf)
		for _, rk := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r }, iotest.OneByteReader,
		} {
			r := NewMuxReader(rk(bytes.NewReader(data)), mf)
			got, err := decodeAll(r, len(data)+1)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("frames:\n got %s\nwant %s", short(got), short(want))
			}
			if !errors.Is(err, wantErr) {
				t.Fatalf("error %v, want %v", err, wantErr)
			}
			if len(r.buf) > mf+headerLen {
				t.Fatalf("buffer of %d bytes for maxFrame %d", len(r.buf), mf)
			}
		}
	})
}

func refMux(data []byte, maxFrame int) ([]result, error) {
	var out []result
	for {
		switch {
		case len(data) == 0:
			return out, io.EOF
		case len(data) < 8:
			return out, io.ErrUnexpectedEOF
		case data[0] > 3 || data[1] != 0 || data[2] != 0 || data[3] != 0:
			return out, ErrBadHeader
		}
		n := binary.BigEndian.Uint32(data[4:8])
		if int64(n) > int64(maxFrame) {
			return out, ErrFrameTooLarge
		}
		if int64(len(data)) < 8+int64(n) {
			return out, io.ErrUnexpectedEOF
		}
		p := data[8 : 8+n]
		kind := data[0]
		data = data[8+n:]
		switch {
		case kind == 3:
			out = append(out, result{Daemon: string(bytes.TrimSuffix(p, []byte("\n")))})
			continue
		case n == 0:
			continue
		}
		s := Stdout
		if kind == 2 {
			s = Stderr
		}
		out = append(out, refMessage(p, s))
	}
}

// refMessage splits one multiplexed message with time.Parse.
func refMessage(p []byte, s Stream) result {
	ts, plen, ok := refPrefix(p)
	r := result{Stream: s, TS: ts, Bad: !ok}
	p = p[plen:]
	if n := len(p) - 1; n >= 0 && p[n] == '\n' {
		r.Payload = string(p[:n])
	} else {
		r.Payload, r.Partial = string(p), true
	}
	return r
}

// refPrefix parses a "TS " prefix with time.Parse.
func refPrefix(p []byte) (ts int64, n int, ok bool) {
	if i := bytes.IndexByte(p, ' '); i >= minPrefix && i <= maxPrefix {
		if t, err := time.Parse(time.RFC3339Nano, string(p[:i])); err == nil &&
			!t.Before(minTime) && !t.After(maxTime) {
			return t.UnixNano(), i + 1, true
		}
	}
	return 0, 0, false
}

// FuzzRawReader checks the TTY decoder against a reference over the whole
// input, for whole and one-byte reads, and that memory stays bounded.
func FuzzRawReader(f *testing.F) {
	f.Add([]byte(ts0+" hello\r\n"+ts0+" 0123456789"+ts0+" \n"), uint16(10))
	f.Add([]byte("plain\n\nError grabbing logs: x\n"+ts0+" tail"), uint16(3))
	f.Add([]byte("2024-05-06T09:08:09.1+02:00 y\r\n2024-05"), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, partial uint16) {
		ps := 1 + int(partial)%300
		want := refRaw(data, ps)
		for _, rk := range []func(io.Reader) io.Reader{
			func(r io.Reader) io.Reader { return r }, iotest.OneByteReader,
		} {
			r := NewRawReader(rk(bytes.NewReader(data)), 256)
			r.PartialSize = ps
			got, err := decodeAll(r, len(data)+1)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("frames:\n got %s\nwant %s", short(got), short(want))
			}
			if err != io.EOF {
				t.Fatalf("error %v, want io.EOF", err)
			}
			if len(r.buf) > r.limit {
				t.Fatalf("buffer of %d bytes, limit %d", len(r.buf), r.limit)
			}
		}
	})
}

func refRaw(data []byte, partial int) []result {
	partial = min(partial, 256) // maxFrame
	var out []result
	for len(data) > 0 {
		w := data[:min(len(data), maxPrefix+1)]
		if i := bytes.IndexByte(w, '\n'); i >= 0 {
			w = w[:i]
		}
		ts, plen, ok := refPrefix(w)
		rest := data[plen:]
		m := result{Stream: Stdout, TS: ts, Bad: !ok}
		if i := bytes.IndexByte(rest[:min(len(rest), partial+1)], '\n'); i >= 0 {
			m.Payload, data = string(rest[:i]), rest[i+1:]
		} else {
			n := min(len(rest), partial)
			m.Payload, m.Partial, data = string(rest[:n]), true, rest[n:]
		}
		if m.Bad && bytes.HasPrefix([]byte(m.Payload), []byte(daemonErrPrefix)) {
			m = result{Daemon: m.Payload}
		}
		if k := refNextStamp(m.Payload, ts); !m.Bad && k > 0 {
			// A run's unfinished line, then the next run's message.
			m.Payload, m.Partial, data = m.Payload[:k], true, rest[k:]
		}
		out = append(out, m)
	}
	return out
}

// refNextStamp is where in a TTY payload a Docker fixed-format timestamp
// later than ts begins, followed by a space; -1 if nowhere. The daemon
// always writes '.' before the fraction; time.Parse also takes ','.
func refNextStamp(p string, ts int64) int {
	const layout = "2006-01-02T15:04:05.000000000Z"
	for k := 0; k+len(layout) < len(p); k++ {
		if p[k+len(layout)] != ' ' || p[k+19] != '.' {
			continue
		}
		t, err := time.Parse(layout, p[k:k+len(layout)])
		if err == nil && !t.Before(minTime) && !t.After(maxTime) && t.UnixNano() > ts {
			return k
		}
	}
	return -1
}

// FuzzParseTimestamp: the fast path must agree with time.Parse on everything
// it accepts, ParseTimestamp must agree with time.Parse within the int64 range,
// and every representable time formatted like Docker must take the fast path.
func FuzzParseTimestamp(f *testing.F) {
	f.Add(ts0, int64(0))
	f.Add("2024-02-29T23:59:59.999999999Z", int64(-1))
	f.Add("2024-05-06T09:08:09.123+02:00", int64(1<<62))
	f.Fuzz(func(t *testing.T, s string, ns int64) {
		tp, perr := time.Parse(time.RFC3339Nano, s)
		inRange := perr == nil && !tp.Before(minTime) && !tp.After(maxTime)
		if fast, ok := parseFast([]byte(s)); ok && (!inRange || fast != tp.UnixNano()) {
			t.Fatalf("parseFast(%q) = %d; time.Parse: %v, %v", s, fast, tp, perr)
		}
		got, err := ParseTimestamp([]byte(s))
		if inRange != (err == nil) || (inRange && got != tp.UnixNano()) {
			t.Fatalf("ParseTimestamp(%q) = %d, %v; time.Parse: %v, %v", s, got, err, tp, perr)
		}

		docker := time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
		if fast, ok := parseFast([]byte(docker)); !ok || fast != ns {
			t.Fatalf("parseFast(%q) = %d, %v; want %d", docker, fast, ok, ns)
		}

		// The Reader's cache of the seconds must not change any result.
		var c tsCache
		c.parse([]byte(docker))
		for _, in := range []string{s, docker[:20] + s[:min(len(s), 10)]} {
			tp, perr := time.Parse(time.RFC3339Nano, in)
			inRange := perr == nil && !tp.Before(minTime) && !tp.After(maxTime)
			if got, ok := c.parse([]byte(in)); ok && (!inRange || got != tp.UnixNano()) {
				t.Fatalf("cached parse(%q) after %q = %d; time.Parse: %v, %v", in, docker, got, tp, perr)
			}
		}
	})
}
