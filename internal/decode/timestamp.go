package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrBadTimestamp is wrapped by ParseTimestamp errors.
var ErrBadTimestamp = errors.New("decode: bad timestamp")

// fixedLayout marks the shape of Docker's RFC3339NanoFixed in UTC:
// '0' = any digit, every other byte must match exactly.
const fixedLayout = "0000-00-00T00:00:00.000000000Z"

// fixedLen is len(fixedLayout): the length of Docker's timestamp prefix.
const fixedLen = len(fixedLayout)

// maxPrefix is the longest RFC3339Nano timestamp accepted in a "TS " prefix
// ("2006-01-02T15:04:05.999999999+07:00"); minPrefix the shortest
// ("2006-01-02T15:04:05Z").
const (
	maxPrefix = 35
	minPrefix = 20
)

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// ParseTimestamp parses an RFC3339Nano timestamp into Unix nanoseconds. Docker's
// fixed layout (9 fractional digits, 'Z') is parsed by hand without allocating;
// any other form falls back to time.Parse. Times outside the int64 nanosecond
// range are rejected.
func ParseTimestamp(b []byte) (int64, error) {
	if ns, ok := parseFast(b); ok {
		return ns, nil
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return 0, fmt.Errorf("%w %q: %w", ErrBadTimestamp, b, err)
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("%w %q: outside the int64 nanosecond range", ErrBadTimestamp, b)
	}
	return t.UnixNano(), nil
}

// parseSlow is ParseTimestamp for prefix detection, with a cheap pre-check
// so that lines without a timestamp rarely reach time.Parse.
func parseSlow(b []byte) (int64, bool) {
	if len(b) < minPrefix || len(b) > maxPrefix || b[0]-'0' > 9 {
		return 0, false
	}
	ns, err := ParseTimestamp(b)
	return ns, err == nil
}

// Byte masks of fixedLayout read as four little-endian words at offsets 0, 8,
// 16 and 22 (the last overlaps): digit positions and the separator bytes.
var (
	dig0, sep0 = layoutWord(0)
	dig1, sep1 = layoutWord(8)
	dig2, sep2 = layoutWord(16)
	dig3, sep3 = layoutWord(22)
)

func layoutWord(off int) (digits, seps uint64) {
	for i := 7; i >= 0; i-- {
		digits, seps = digits<<8, seps<<8
		if c := fixedLayout[off+i]; c == '0' {
			digits |= 0xFF
		} else {
			seps |= uint64(c)
		}
	}
	return digits, seps
}

// wordOK reports whether x has ASCII digits where dig is 0xFF and exactly sep
// elsewhere (8 bytes checked at once).
func wordOK(x, dig, sep uint64) bool {
	const hi, zero, six = 0xF0F0F0F0F0F0F0F0, 0x3030303030303030, 0x0606060606060606
	d := x & dig
	return x&^dig == sep && d&hi == zero&dig && (d+six&dig)&hi == zero&dig
}

// Unix seconds whose every nanosecond fits in an int64 of nanoseconds are
// (minSec, maxSec); at the bounds themselves only part of the nanoseconds do.
const (
	e9              = 1_000_000_000
	maxSec, maxNsec = math.MaxInt64 / e9, math.MaxInt64 % e9      // 9223372036, 854775807
	minSec, minNsec = math.MinInt64/e9 - 1, math.MinInt64%e9 + e9 // -9223372037, 145224192
)

// parseFast parses exactly "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ". It accepts a
// subset of what time.Parse(time.RFC3339Nano) accepts, with the same result.
func parseFast(b []byte) (int64, bool) {
	var c tsCache
	return c.parse(b)
}

// tsCache remembers the seconds of the last timestamp parsed: consecutive log
// lines mostly share them, and then only the fraction needs parsing.
type tsCache struct {
	w0, w1 uint64 // "YYYY-MM-", "DDThh:mm"
	w2     uint32 // ":ss."
	sec    int64
	ok     bool
}

// parse is parseFast with the cache.
func (c *tsCache) parse(b []byte) (int64, bool) {
	if len(b) != fixedLen {
		return 0, false
	}
	u0 := binary.LittleEndian.Uint64(b[0:])  // "YYYY-MM-"
	u1 := binary.LittleEndian.Uint64(b[8:])  // "DDThh:mm"
	u2 := binary.LittleEndian.Uint64(b[16:]) // ":ss.nnnn"
	u3 := binary.LittleEndian.Uint64(b[22:]) // "nnnnnnnZ"
	if !wordOK(u2, dig2, sep2) || !wordOK(u3, dig3, sep3) {
		return 0, false
	}
	nsec := int64(eightDigits(binary.LittleEndian.Uint64(b[20:])))*10 + int64(b[28]-'0')
	if c.ok && u0 == c.w0 && u1 == c.w1 && uint32(u2) == c.w2 {
		return c.sec*e9 + nsec, true
	}
	if !wordOK(u0, dig0, sep0) || !wordOK(u1, dig1, sep1) {
		return 0, false
	}
	year := int64(b[0]-'0')*1000 + int64(b[1]-'0')*100 + int64(b[2]-'0')*10 + int64(b[3]-'0')
	month := int64(b[5]-'0')*10 + int64(b[6]-'0')
	day := int64(b[8]-'0')*10 + int64(b[9]-'0')
	hour := int64(b[11]-'0')*10 + int64(b[12]-'0')
	minute := int64(b[14]-'0')*10 + int64(b[15]-'0')
	sec := int64(b[17]-'0')*10 + int64(b[18]-'0')
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	unix := daysFromCivil(year, month, day)*86400 + hour*3600 + minute*60 + sec
	// Reject what UnixNano cannot represent (before 1677-09-21, after 2262-04-11).
	if unix > maxSec || (unix == maxSec && nsec > maxNsec) ||
		unix < minSec || (unix == minSec && nsec < minNsec) {
		return 0, false
	}
	*c = tsCache{w0: u0, w1: u1, w2: uint32(u2), sec: unix, ok: unix > minSec && unix < maxSec}
	return unix*e9 + nsec, true
}

// eightDigits converts 8 validated ASCII digits, read little-endian, to their
// value (most significant digit first in memory).
func eightDigits(x uint64) uint64 {
	x -= 0x3030303030303030
	x = x*10 + x>>8 // each 16-bit lane: 2-digit value in its low byte
	return ((x&0x000000FF000000FF)*(100+1000000<<32) + (x>>16&0x000000FF000000FF)*(1+10000<<32)) >> 32
}

// daysIn returns the number of days of month m (1..12) in year y.
func daysIn(m, y int64) int64 {
	if m == 2 {
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + ((m + m>>3) & 1) // 31 for Jan, Mar, May, Jul, Aug, Oct, Dec
}

// daysFromCivil returns the days since 1970-01-01 of the proleptic Gregorian
// date y-m-d (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400 // [0, 399]
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
