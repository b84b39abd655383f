// Package seqcheck defines the self-verifying log line format written by
// internal/testing/cmd/loggen and checks what a receiver delivered: every
// line exactly once, intact, in order.
//
// # Line format
//
// One line (without its trailing '\n') is six fields separated by one space:
//
//	<src> <stream> <seq> <len> <crc> <payload>
//
//	src      id of the generator (no whitespace), e.g. the container name
//	stream   "stdout" or "stderr" (any token without whitespace is accepted)
//	seq      decimal sequence number, 1-based, counted per stream
//	len      decimal byte length of payload
//	crc      CRC-32C (Castagnoli) as 8 lowercase hex digits, computed over the
//	         line with the crc field and the space after it left out, that is
//	         over "<src> <stream> <seq> <len> " followed by the payload
//	payload  len bytes, deterministic from (src, seq, len, charset); never
//	         contains '\n' or '\r'. ASCII payloads use [0-9A-Za-z] only.
//
// Example: "web-1 stdout 7 10 cbd06097 nL9NUlOezN".
//
// An empty line carries no seq; the Checker counts empty lines separately.
//
// Docker splits a line longer than 16 KiB into partial messages of
// [FrameSize] bytes, counted from the first byte of the line (header
// included). Payloads of charset [UTF8] never put a multi-byte rune across such
// a boundary; [UTF8Split] puts one across every boundary the line reaches.
package seqcheck

import (
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// FrameSize is the size at which Docker's log copier cuts a line without a
// newline into partial messages (daemon/logger/copier.go bufSize).
const FrameSize = 16 * 1024

// Charset selects what a payload is made of.
type Charset uint8

const (
	// ASCII payloads use [0-9A-Za-z].
	ASCII Charset = iota
	// UTF8 payloads mix in 2-, 3- and 4-byte runes, but never across a
	// FrameSize boundary of the line, so the line survives Docker's split
	// and the json-file driver's UTF-8 sanitizing intact.
	UTF8
	// UTF8Split is UTF8 where a multi-byte rune straddles every FrameSize
	// boundary the line reaches (when the remaining payload allows it).
	// NOTE: the json-file driver replaces the halves of such a rune with
	// U+FFFD on disk, so these lines come back corrupt from it.
	UTF8Split
)

// ErrCorrupt is wrapped by every error of Parse.
var ErrCorrupt = errors.New("seqcheck: corrupt line")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Line is a parsed log line. Payload aliases the parsed string.
type Line struct {
	Src     string
	Stream  string
	Seq     int
	Len     int
	CRC     uint32
	Payload string
}

// ValidToken reports whether s can be used as src or stream: non-empty,
// no spaces, no control characters.
func ValidToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// Format returns the line (without '\n') number seq of stream written by src
// with a payload of size bytes: ASCII, or UTF8 when utf8 is set. It panics on
// an invalid src or stream, seq < 1 or size < 0.
func Format(src, stream string, seq, size int, utf8 bool) string {
	cs := ASCII
	if utf8 {
		cs = UTF8
	}
	return string(AppendLine(nil, src, stream, seq, size, cs))
}

// AppendLine appends the line (without '\n') to dst, see Format.
func AppendLine(dst []byte, src, stream string, seq, size int, cs Charset) []byte {
	if !ValidToken(src) || !ValidToken(stream) || seq < 1 || size < 0 {
		panic(fmt.Sprintf("seqcheck.AppendLine: invalid src %q stream %q seq %d size %d", src, stream, seq, size))
	}
	start := len(dst)
	dst = append(dst, src...)
	dst = append(dst, ' ')
	dst = append(dst, stream...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(seq), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(size), 10)
	dst = append(dst, ' ')
	crc := crc32.Update(0, castagnoli, dst[start:])
	crcAt := len(dst)
	dst = append(dst, "00000000 "...)
	p := len(dst)
	dst = appendPayload(dst, p-start, seed(src, seq, size), size, cs)
	crc = crc32.Update(crc, castagnoli, dst[p:])
	const hex = "0123456789abcdef"
	for i := 7; i >= 0; i-- {
		dst[crcAt+i] = hex[crc&0xf]
		crc >>= 4
	}
	return dst
}

// Parse parses and verifies a line (without its '\n'). On a verification
// error (length or crc mismatch) the returned Line still holds the header
// fields, for diagnostics.
func Parse(line string) (Line, error) {
	var l Line
	var f [5]string
	rest := line
	for i := range f {
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			if i == 4 { // tolerate a trimmed trailing space after an empty payload
				f[i], rest = rest, ""
				break
			}
			return l, fmt.Errorf("%w: %d fields, want 6: %.80q", ErrCorrupt, i+1, line)
		}
		f[i], rest = rest[:sp], rest[sp+1:]
	}
	l.Src, l.Stream = f[0], f[1]
	if !ValidToken(l.Src) || !ValidToken(l.Stream) {
		return l, fmt.Errorf("%w: bad src or stream: %.80q", ErrCorrupt, line)
	}
	var ok bool
	if l.Seq, ok = atoi(f[2]); !ok || l.Seq < 1 {
		return l, fmt.Errorf("%w: bad seq %q", ErrCorrupt, f[2])
	}
	if l.Len, ok = atoi(f[3]); !ok {
		return l, fmt.Errorf("%w: bad len %q", ErrCorrupt, f[3])
	}
	if len(f[4]) != 8 {
		return l, fmt.Errorf("%w: bad crc %q", ErrCorrupt, f[4])
	}
	crc, err := strconv.ParseUint(f[4], 16, 32)
	if err != nil || strings.ToLower(f[4]) != f[4] {
		return l, fmt.Errorf("%w: bad crc %q", ErrCorrupt, f[4])
	}
	l.CRC = uint32(crc)
	l.Payload = rest
	if len(rest) != l.Len {
		return l, fmt.Errorf("%w: %s %s seq %d: payload is %d bytes, want %d", ErrCorrupt, l.Src, l.Stream, l.Seq, len(rest), l.Len)
	}
	hdr := len(f[0]) + len(f[1]) + len(f[2]) + len(f[3]) + 4
	got := crc32.Update(crc32.Update(0, castagnoli, []byte(line[:hdr])), castagnoli, []byte(rest))
	if got != l.CRC {
		return l, fmt.Errorf("%w: %s %s seq %d: crc %08x, want %08x", ErrCorrupt, l.Src, l.Stream, l.Seq, got, l.CRC)
	}
	return l, nil
}

// atoi parses a canonical non-negative decimal (no sign, no leading zeros).
func atoi(s string) (int, bool) {
	if s == "" || len(s) > 12 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Multi-byte runes used by the UTF8 charsets, by encoded length - 2.
var runes = [3][]string{
	{"é", "ß", "ж", "ק"}, // 2 bytes
	{"€", "中", "あ", "한"}, // 3 bytes
	{"😀", "𝄞", "🚀", "𠜎"}, // 4 bytes
}

func seed(src string, seq, size int) uint64 {
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(src); i++ {
		h ^= uint64(src[i])
		h *= 1099511628211
	}
	return h ^ uint64(seq)*0x9e3779b97f4a7c15 ^ uint64(size)*0xbf58476d1ce4e5b9
}

// splitmix64
func next(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// appendPayload appends size payload bytes; off is the line offset of the
// first payload byte, used to place runes relative to FrameSize boundaries.
func appendPayload(dst []byte, off int, st uint64, size int, cs Charset) []byte {
	if cs == ASCII {
		for size > 0 {
			r := next(&st)
			for k := 0; k < 10 && size > 0; k++ {
				dst = append(dst, alnum[(r&63)%62])
				r >>= 6
				size--
			}
		}
		return dst
	}
	pos := off // line offset of the next byte
	end := off + size
	for pos < end {
		r := next(&st)
		left := end - pos
		d := FrameSize - pos%FrameSize // bytes up to the next boundary
		// Straddle the boundary: a rune of d+1 bytes starting here.
		if cs == UTF8Split && d <= 3 && d+1 <= left {
			dst = append(dst, runes[d-1][r&3]...)
			pos += d + 1
			continue
		}
		if r&3 == 0 { // one multi-byte rune in four
			n := 2 + int(r>>2)%3
			if n <= left && n <= d && !(cs == UTF8Split && n == d) {
				dst = append(dst, runes[n-2][(r>>8)&3]...)
				pos += n
				continue
			}
		}
		dst = append(dst, alnum[(r>>16)%62])
		pos++
	}
	return dst
}
