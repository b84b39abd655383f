package decode

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/streamtest"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func TestStreamString(t *testing.T) {
	for s, want := range map[Stream]string{Stdout: "stdout", Stderr: "stderr", 7: "stream(7)"} {
		if got := s.String(); got != want {
			t.Errorf("Stream(%d).String() = %q, want %q", s, got, want)
		}
	}
}

func TestMuxReader(t *testing.T) {
	const ts = ts0 + " "
	tests := []struct {
		name     string
		in       []byte
		maxFrame int
		want     []result
		wantErr  error // final error (errors.Is)
	}{
		{
			name:    "empty stream",
			wantErr: io.EOF,
		},
		{
			name:    "exact framing",
			in:      join(frame(1, ts+"hello\n"), frame(2, ts+"oops\n"), frame(1, ts+"bye\n")),
			want:    []result{ok("hello"), errOut("oops"), ok("bye")},
			wantErr: io.EOF,
		},
		{
			name:    "stdin stream byte is stdout",
			in:      frame(0, ts+"x\n"),
			want:    []result{ok("x")},
			wantErr: io.EOF,
		},
		{
			name:    "empty lines",
			in:      join(frame(1, ts+"\n"), frame(2, ts+"\n")),
			want:    []result{ok(""), errOut("")},
			wantErr: io.EOF,
		},
		{
			name:    "zero-length frame is skipped",
			in:      join(frame(1, ""), frame(1, ts+"x\n")),
			want:    []result{ok("x")},
			wantErr: io.EOF,
		},
		{
			name:    "16 KiB + 1 line",
			in:      join(frame(1, ts+a16k), frame(1, ts+"b\n")),
			want:    []result{part(ok(a16k)), ok("b")},
			wantErr: io.EOF,
		},
		{
			name:    "newline-only final part",
			in:      join(frame(1, ts+a16k), frame(1, ts+"\n")),
			want:    []result{part(ok(a16k)), ok("")},
			wantErr: io.EOF,
		},
		{
			name: "stdout and stderr partials interleaved",
			in: join(frame(1, ts+a16k), frame(2, ts+a16k), frame(2, ts+"e\n"),
				frame(1, ts+"o\n")),
			want:    []result{part(ok(a16k)), part(errOut(a16k)), errOut("e"), ok("o")},
			wantErr: io.EOF,
		},
		{
			name:    "leftover without newline at exit",
			in:      frame(1, ts+"no newline"),
			want:    []result{part(ok("no newline"))},
			wantErr: io.EOF,
		},
		{
			name: "bad timestamps do not break the stream",
			in: join(frame(1, "no timestamp\n"), frame(2, "2024-13-06T07:08:09.123456789Z bad month\n"),
				frame(1, "x"), frame(1, ts0+"\n"), frame(1, ts+"good\n")),
			want: []result{bad(Stdout, "no timestamp"), bad(Stderr, "2024-13-06T07:08:09.123456789Z bad month"),
				part(bad(Stdout, "x")), bad(Stdout, ts0), ok("good")},
			wantErr: io.EOF,
		},
		{
			name: "other RFC3339Nano forms",
			in: join(frame(1, "2024-05-06T09:08:09.123456789+02:00 offset\n"),
				frame(1, "2024-05-06T07:08:09.123456789z lower z\n"),
				frame(1, "2024-05-06T07:08:09.1234567891Z ten digits\n")),
			want: []result{ok("offset"), bad(Stdout, "2024-05-06T07:08:09.123456789z lower z"),
				ok("ten digits")},
			wantErr: io.EOF,
		},
		{
			name:    "systemerr frame",
			in:      join(frame(1, ts+"x\n"), frame(3, "Error grabbing logs: log file is corrupt\n")),
			want:    []result{ok("x"), {Daemon: "Error grabbing logs: log file is corrupt"}},
			wantErr: io.EOF,
		},
		{
			name:    "EOF mid-header",
			in:      join(frame(1, ts+"x\n"), []byte{1, 0, 0}),
			want:    []result{ok("x")},
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "EOF mid-payload",
			in:      join(frame(1, ts+"x\n"), frame(1, ts+"cut")[:headerLen+10]),
			want:    []result{ok("x")},
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "EOF right after the header",
			in:      header(1, 5),
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "unknown stream byte",
			in:      join(frame(1, ts+"x\n"), frame(4, ts+"y\n")),
			want:    []result{ok("x")},
			wantErr: ErrBadHeader,
		},
		{
			name:    "non-zero header padding",
			in:      join(frame(1, ts+"x\n"), []byte{1, 0, 1, 0, 0, 0, 0, 1, 'y'}),
			want:    []result{ok("x")},
			wantErr: ErrBadHeader,
		},
		{
			name:    "4 GiB frame",
			in:      join(frame(1, ts+"x\n"), header(1, 0xFFFFFFFF), []byte("tail")),
			want:    []result{ok("x")},
			wantErr: ErrFrameTooLarge,
		},
		{
			name:     "frame of maxFrame+1 bytes",
			in:       frame(1, ts+strings.Repeat("z", 100-len(ts))),
			maxFrame: 99,
			wantErr:  ErrFrameTooLarge,
		},
		{
			name:     "frame of maxFrame bytes",
			in:       frame(1, ts+strings.Repeat("z", 99-len(ts))),
			maxFrame: 99,
			want:     []result{part(ok(strings.Repeat("z", 99-len(ts))))},
			wantErr:  io.EOF,
		},
		{
			name:     "100 KiB frame grows the buffer",
			in:       frame(1, ts+strings.Repeat("y", 100<<10)+"\n"),
			maxFrame: 200 << 10,
			want:     []result{ok(strings.Repeat("y", 100<<10))},
			wantErr:  io.EOF,
		},
	}
	for _, tt := range tests {
		for _, rk := range readerKinds {
			t.Run(tt.name+"/"+rk.name, func(t *testing.T) {
				r := NewMuxReader(rk.wrap(bytes.NewReader(tt.in)), tt.maxFrame)
				got, err := decodeAll(r, 100)
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("frames:\n got %s\nwant %s", short(got), short(tt.want))
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr == io.EOF && err != io.EOF {
					t.Errorf("clean end must return io.EOF itself, got %#v", err)
				}
				if _, again := r.Next(); again != err {
					t.Errorf("error is not sticky: %v, then %v", err, again)
				}
			})
		}
	}
}

func TestRawReader(t *testing.T) {
	const ts = ts0 + " "
	tests := []struct {
		name    string
		in      string
		partial int // Reader.PartialSize; 0 = default
		want    []result
		wantErr error
	}{
		{
			name:    "empty stream",
			wantErr: io.EOF,
		},
		{
			name:    "CRLF lines keep the CR",
			in:      ts + "hello\r\n" + ts + "\r\n" + ts + "\n",
			want:    []result{ok("hello\r"), ok("\r"), ok("")},
			wantErr: io.EOF,
		},
		{
			name:    "16 KiB partial followed by the next prefix",
			in:      ts + a16k + ts + "bc\r\n",
			want:    []result{part(ok(a16k)), ok("bc\r")},
			wantErr: io.EOF,
		},
		{
			// A TTY run that ended mid-line ("prompt> "), then the next
			// run's first line: two messages, the first a partial.
			name:    "unfinished line of an ended run, then the next run",
			in:      ts + "prompt> " + ts1 + " next\r\n",
			want:    []result{part(ok("prompt> ")), {TS: ns1, Stream: Stdout, Payload: "next\r"}},
			wantErr: io.EOF,
		},
		{
			// A program's own text with a timestamp of that format stamped
			// no later than the message stays in the line.
			name:    "a timestamp in the text is not a message",
			in:      ts + "at " + ts0 + " done\n",
			want:    []result{ok("at " + ts0 + " done")},
			wantErr: io.EOF,
		},
		{
			name:    "newline-only final part",
			in:      ts + a16k + ts + "\n",
			want:    []result{part(ok(a16k)), ok("")},
			wantErr: io.EOF,
		},
		{
			name:    "line of exactly PartialSize bytes and newline",
			in:      ts + a16k + "\n" + ts + "x\n",
			want:    []result{ok(a16k), ok("x")},
			wantErr: io.EOF,
		},
		{
			name:    "small PartialSize splits inside the first window",
			in:      ts + "0123456789\n" + ts + "0123\n",
			partial: 4,
			want:    []result{part(ok("0123")), part(bad(Stdout, "4567")), bad(Stdout, "89"), ok("0123")},
			wantErr: io.EOF,
		},
		{
			name:    "leftover at exit",
			in:      ts + "a\n" + ts + "tail",
			want:    []result{ok("a"), part(ok("tail"))},
			wantErr: io.EOF,
		},
		{
			name:    "leftover shorter than a prefix",
			in:      ts + "a\n" + "2024-05",
			want:    []result{ok("a"), part(bad(Stdout, "2024-05"))},
			wantErr: io.EOF,
		},
		{
			name:    "bad timestamps",
			in:      "plain\n" + "\n" + "2024-02-30T00:00:00.000000000Z feb 30\n" + ts + "good\n",
			want:    []result{bad(Stdout, "plain"), bad(Stdout, ""), bad(Stdout, "2024-02-30T00:00:00.000000000Z feb 30"), ok("good")},
			wantErr: io.EOF,
		},
		{
			name:    "bad line longer than PartialSize is split",
			in:      strings.Repeat("b", 10) + "\n",
			partial: 6,
			want:    []result{part(bad(Stdout, "bbbbbb")), bad(Stdout, "bbbb")},
			wantErr: io.EOF,
		},
		{
			name:    "offset timestamp",
			in:      "2024-05-06T09:08:09.123456789+02:00 x\r\n",
			want:    []result{ok("x\r")},
			wantErr: io.EOF,
		},
		{
			name:    "daemon error line",
			in:      ts + "a\n" + "Error grabbing logs: boom\n",
			want:    []result{ok("a"), {Daemon: "Error grabbing logs: boom"}},
			wantErr: io.EOF,
		},
		{
			name:    "container line that looks like a daemon error",
			in:      ts + "Error grabbing logs: not really\n",
			want:    []result{ok("Error grabbing logs: not really")},
			wantErr: io.EOF,
		},
	}
	for _, tt := range tests {
		for _, rk := range readerKinds {
			t.Run(tt.name+"/"+rk.name, func(t *testing.T) {
				r := NewRawReader(rk.wrap(strings.NewReader(tt.in)), 0)
				if tt.partial > 0 {
					r.PartialSize = tt.partial
				}
				got, err := decodeAll(r, 100)
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("frames:\n got %s\nwant %s", short(got), short(tt.want))
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
			})
		}
	}
}

// TestUTF8AcrossPartBoundary: Docker splits by bytes, so a multi-byte
// character can straddle the 16384 boundary; the parts must concatenate back
// to the exact original bytes.
func TestUTF8AcrossPartBoundary(t *testing.T) {
	line := strings.Repeat("x", DefaultPartialSize-1) + "€" + strings.Repeat("ü", 3000)
	p1, p2 := line[:DefaultPartialSize], line[DefaultPartialSize:]
	const ts = ts0 + " "
	inputs := map[string]*Reader{
		"mux": NewMuxReader(bytes.NewReader(join(frame(1, ts+p1), frame(1, ts+p2+"\n"))), 0),
		"raw": NewRawReader(strings.NewReader(ts+p1+ts+p2+"\r\n"), 0),
	}
	for name, r := range inputs {
		got, err := decodeAll(r, 10)
		if err != io.EOF || len(got) != 2 || !got[0].Partial || got[1].Partial {
			t.Fatalf("%s: got %s, %v", name, short(got), err)
		}
		if joined := strings.TrimSuffix(got[0].Payload+got[1].Payload, "\r"); joined != line {
			t.Errorf("%s: reassembled line differs from the original", name)
		}
	}
}

// TestHugeHeaderDoesNotAllocate: the length of a header is untrusted.
func TestHugeHeaderDoesNotAllocate(t *testing.T) {
	in := join(header(1, 0xFFFFFFFF), make([]byte, 100))
	r := NewMuxReader(bytes.NewReader(in), 0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := r.Next()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("error = %v, want ErrFrameTooLarge", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<10 {
		t.Errorf("allocated %d bytes for a rejected header", n)
	}
	if len(r.buf) > initialBufSize {
		t.Errorf("buffer grew to %d", len(r.buf))
	}
}

func TestReadErrorIsWrapped(t *testing.T) {
	boom := errors.New("connection reset")
	for _, raw := range []bool{false, true} {
		in := io.MultiReader(bytes.NewReader(frame(1, ts0+" x")), iotest.ErrReader(boom))
		var r *Reader
		if raw {
			in = io.MultiReader(strings.NewReader(ts0+" x"), iotest.ErrReader(boom))
			r = NewRawReader(in, 0)
		} else {
			r = NewMuxReader(in, 0)
		}
		_, err := decodeAll(r, 10)
		if !errors.Is(err, boom) {
			t.Errorf("raw=%v: error = %v, want it to wrap %v", raw, err, boom)
		}
	}
}

func TestNoProgressReader(t *testing.T) {
	r := NewMuxReader(iotest.ErrReader(nil), 0) // always (0, nil)
	if _, err := r.Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("error = %v, want io.ErrNoProgress", err)
	}
}

// TestPayloadCapacity: appending to a Payload must not overwrite the buffer.
func TestPayloadCapacity(t *testing.T) {
	r := NewMuxReader(bytes.NewReader(join(frame(1, ts0+" a\n"), frame(1, ts0+" b\n"))), 0)
	f, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if cap(f.Payload) != len(f.Payload) {
		t.Errorf("cap(Payload) = %d, len %d", cap(f.Payload), len(f.Payload))
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	line := ts0 + " " + strings.Repeat("m", 68) + "\n"
	var mux, raw []byte
	for range 1000 {
		mux = append(mux, frame(1, line)...)
		raw = append(raw, line...)
	}
	for name, r := range map[string]*Reader{
		"mux": NewMuxReader(streamtest.Repeat(mux), 0),
		"raw": NewRawReader(streamtest.Repeat(raw), 0),
	} {
		if n := testing.AllocsPerRun(10000, func() {
			if f, err := r.Next(); err != nil || f.BadTimestamp || f.Partial {
				t.Fatalf("%s: %+v %v", name, f, err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per Next", name, n)
		}
	}
}

// short formats results with long payloads abbreviated.
func short(rs []result) string {
	var b strings.Builder
	for _, r := range rs {
		p := r.Payload
		if len(p) > 40 {
			p = fmt.Sprintf("%s…(%d bytes)", p[:20], len(p))
		}
		fmt.Fprintf(&b, "\n\t{TS:%d Stream:%v Payload:%q Partial:%v Bad:%v Daemon:%q}",
			r.TS, r.Stream, p, r.Partial, r.Bad, r.Daemon)
	}
	return b.String()
}

func TestBuffered(t *testing.T) {
	r := NewMuxReader(bytes.NewReader(join(frame(1, ts0+" a\n"), frame(1, ts0+" b\n"))), 0)
	if r.Buffered() != 0 {
		t.Fatalf("Buffered() = %d before the first read", r.Buffered())
	}
	r.Next()
	if got, want := r.Buffered(), len(frame(1, ts0+" b\n")); got != want {
		t.Fatalf("Buffered() = %d after the first frame, want %d", got, want)
	}
	r.Next()
	if r.Buffered() != 0 {
		t.Fatalf("Buffered() = %d after the last frame", r.Buffered())
	}
}

// TestShrink: once a long frame was read and nothing is buffered, Shrink
// gives the grown buffer back, and reading goes on.
func TestShrink(t *testing.T) {
	long := strings.Repeat("x", 200_000)
	// A read never crosses the two readers: the first frame drains the buffer.
	r := NewMuxReader(io.MultiReader(bytes.NewReader(frame(1, ts0+" "+long+"\n")), bytes.NewReader(frame(1, ts0+" short\n"))), 0)
	f, err := r.Next()
	if err != nil || len(f.Payload) != len(long) {
		t.Fatalf("first frame: %d bytes, %v", len(f.Payload), err)
	}
	if r.Buffered() != 0 || len(r.buf) <= 64<<10 {
		t.Fatalf("want a drained, grown buffer: %d buffered of %d", r.Buffered(), len(r.buf))
	}
	r.Shrink(64 << 10)
	if len(r.buf) > 64<<10 {
		t.Fatalf("buffer of %d bytes kept", len(r.buf))
	}
	if f, err := r.Next(); err != nil || string(f.Payload) != "short" {
		t.Fatalf("after Shrink: %q, %v", f.Payload, err)
	}
}
