package seqcheck

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFormatParseRoundTrip(t *testing.T) {
	for _, cs := range []Charset{ASCII, UTF8, UTF8Split} {
		for _, size := range []int{0, 1, 7, 100, FrameSize - 30, FrameSize, FrameSize + 1, 3*FrameSize + 5, 102400} {
			for _, seq := range []int{1, 9, 10, 12345} {
				line := string(AppendLine(nil, "src-1", "stderr", seq, size, cs))
				l, err := Parse(line)
				if err != nil {
					t.Fatalf("cs %d size %d seq %d: %v", cs, size, seq, err)
				}
				if l.Src != "src-1" || l.Stream != "stderr" || l.Seq != seq || l.Len != size || len(l.Payload) != size {
					t.Fatalf("cs %d size %d seq %d: parsed %+v", cs, size, seq, l)
				}
				if strings.ContainsAny(line, "\n\r") {
					t.Fatalf("line contains a newline")
				}
				if cs == ASCII && strings.ContainsFunc(l.Payload, func(r rune) bool { return r >= utf8.RuneSelf || r == ' ' }) {
					t.Fatalf("ASCII payload has non-alnum: %q", l.Payload)
				}
				if cs != ASCII && !utf8.ValidString(line) {
					t.Fatalf("invalid UTF-8")
				}
				if again := string(AppendLine([]byte("prefix"), "src-1", "stderr", seq, size, cs)); again != "prefix"+line {
					t.Fatalf("not deterministic")
				}
			}
		}
	}
}

// splitsRune reports whether the line's byte at offset off is not the start
// of a rune, that is whether Docker cutting there splits a rune.
func splitsRune(line string, off int) bool {
	return off < len(line) && !utf8.RuneStart(line[off])
}

func TestUTF8Boundaries(t *testing.T) {
	var multi, split, whole int
	for seq := 1; seq <= 200; seq++ {
		size := 3*FrameSize + seq
		u := Format("a", "stdout", seq, size, true)
		s := string(AppendLine(nil, "a", "stdout", seq, size, UTF8Split))
		if utf8.RuneCountInString(u) == len(u) {
			t.Fatal("UTF8 payload without multi-byte runes")
		}
		multi++
		for off := FrameSize; off < len(u); off += FrameSize {
			if splitsRune(u, off) {
				t.Fatalf("UTF8 seq %d splits a rune at %d", seq, off)
			}
			whole++
		}
		for off := FrameSize; off < len(s); off += FrameSize {
			if !splitsRune(s, off) {
				t.Fatalf("UTF8Split seq %d does not split a rune at %d", seq, off)
			}
			split++
		}
	}
	if split == 0 || whole == 0 || multi == 0 {
		t.Fatal("nothing checked")
	}
	// Just over one frame: the one boundary is still split.
	s := string(AppendLine(nil, "a", "stdout", 1, FrameSize, UTF8Split))
	if !splitsRune(s, FrameSize) {
		t.Fatal("no split at FrameSize")
	}
}

func TestFormatExample(t *testing.T) {
	got := Format("web-1", "stdout", 7, 10, false)
	l, err := Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	// Golden: the format (and the payload generator) must not change silently.
	if want := "web-1 stdout 7 10 cbd06097 nL9NUlOezN"; got != want || l.Payload != "nL9NUlOezN" {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got, want := Format("web-1", "stderr", 1, 12, true), "web-1 stderr 1 12 a52e5206 z\u3042VYFtKTNr"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if e := Format("web-1", "stdout", 7, 0, false); !strings.HasSuffix(e, " ") {
		t.Fatalf("empty payload line %q lacks the trailing space", e)
	} else if _, err := Parse(strings.TrimSuffix(e, " ")); err != nil {
		t.Fatalf("trimmed empty payload: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	good := Format("s", "stdout", 3, 40, true)
	flip := []byte(good)
	flip[len(flip)-1] ^= 1
	crcPos := len("s stdout 3 40 ")
	cases := map[string]string{
		"empty":         "",
		"few fields":    "s stdout 3",
		"bad seq":       strings.Replace(good, " 3 ", " x ", 1),
		"zero seq":      strings.Replace(good, " 3 ", " 0 ", 1),
		"leading zero":  strings.Replace(good, " 3 ", " 03 ", 1),
		"plus seq":      strings.Replace(good, " 3 ", " +3 ", 1),
		"other seq":     strings.Replace(good, " 3 ", " 4 ", 1),
		"other src":     "t" + good[1:],
		"short crc":     good[:crcPos] + good[crcPos+1:],
		"upper crc":     good[:crcPos] + strings.ToUpper(good[crcPos:crcPos+8]) + good[crcPos+8:],
		"flipped":       string(flip),
		"truncated":     good[:len(good)-1],
		"extra":         good + "x",
		"trailing cr":   good + "\r",
		"replaced rune": replaceFirstMultiByte(Format("s", "stdout", 3, 200, true)),
	}
	for name, line := range cases {
		if _, err := Parse(line); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Parse(%.60q) = %v, want ErrCorrupt", name, line, err)
		}
	}
	if l, err := Parse(string(flip)); err == nil || l.Seq != 3 || l.Src != "s" {
		t.Errorf("header fields not kept on crc error: %+v %v", l, err)
	}
}

func BenchmarkAppendLine(b *testing.B) {
	buf := make([]byte, 0, 200<<10)
	for _, size := range []int{100, 16385, 102400} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				buf = AppendLine(buf[:0], "bench", "stdout", i+1, size, UTF8)
			}
		})
	}
}

// replaceFirstMultiByte replaces the first multi-byte rune with U+FFFD, as
// the json-file driver does with the halves of a split rune.
func replaceFirstMultiByte(s string) string {
	for i, r := range s {
		if n := utf8.RuneLen(r); n > 1 && r != utf8.RuneError {
			return s[:i] + "\ufffd" + s[i+n:]
		}
	}
	panic("no multi-byte rune")
}
