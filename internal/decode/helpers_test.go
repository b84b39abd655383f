package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing/iotest"
	"time"
)

// ts0 is a timestamp in Docker's fixed layout and ns0 its value.
const ts0 = "2024-05-06T07:08:09.123456789Z"

var ns0 = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC).UnixNano()

// ts1 is a later timestamp (the next run of a container), ns1 its value.
const ts1 = "2024-05-06T07:08:12.000000001Z"

var ns1 = time.Date(2024, 5, 6, 7, 8, 12, 1, time.UTC).UnixNano()

// frame encodes one stdcopy frame.
func frame(stream byte, payload string) []byte {
	b := make([]byte, headerLen, headerLen+len(payload))
	b[0] = stream
	binary.BigEndian.PutUint32(b[4:], uint32(len(payload)))
	return append(b, payload...)
}

// header encodes a stdcopy header with an arbitrary length.
func header(stream byte, size uint32) []byte {
	b := make([]byte, headerLen)
	b[0] = stream
	binary.BigEndian.PutUint32(b[4:], size)
	return b
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// result is a decoded Frame with a copied payload, or a DaemonError.
type result struct {
	TS      int64
	Stream  Stream
	Payload string
	Partial bool
	Bad     bool
	Daemon  string // DaemonError message
}

func ok(payload string) result { return result{TS: ns0, Stream: Stdout, Payload: payload} }
func errOut(payload string) result {
	return result{TS: ns0, Stream: Stderr, Payload: payload}
}
func part(r result) result { r.Partial = true; return r }
func bad(s Stream, payload string) result {
	return result{Stream: s, Payload: payload, Bad: true}
}

// decodeAll reads r to its first error other than a DaemonError (at most
// limit results, so a broken decoder cannot loop forever).
func decodeAll(r *Reader, limit int) ([]result, error) {
	var out []result
	for len(out) < limit {
		f, err := r.Next()
		var de *DaemonError
		switch {
		case errors.As(err, &de):
			out = append(out, result{Daemon: de.Message})
			continue
		case err != nil:
			return out, err
		}
		out = append(out, result{TS: f.Timestamp, Stream: f.Stream, Payload: string(f.Payload),
			Partial: f.Partial, Bad: f.BadTimestamp})
	}
	return out, errors.New("too many results")
}

// readerKinds deliver the same bytes in differently sized reads.
var readerKinds = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"onebyte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"dataerr", iotest.DataErrReader},
	{"chunk7", func(r io.Reader) io.Reader { return &chunkReader{r: r, n: 7} }},
}

// chunkReader returns at most n bytes per Read, and sometimes (0, nil).
type chunkReader struct {
	r     io.Reader
	n     int
	calls int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	c.calls++
	if c.calls%5 == 0 {
		return 0, nil
	}
	return c.r.Read(p[:min(len(p), c.n)])
}

var a16k = strings.Repeat("a", DefaultPartialSize)
