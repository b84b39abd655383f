package decode

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	date := func(y int, m time.Month, d, hh, mm, ss, ns int) int64 {
		return time.Date(y, m, d, hh, mm, ss, ns, time.UTC).UnixNano()
	}
	tests := []struct {
		in   string
		want int64
		fast bool // accepted by the fast path
		bad  bool
	}{
		{in: ts0, want: ns0, fast: true},
		{in: "1970-01-01T00:00:00.000000000Z", want: 0, fast: true},
		{in: "1969-12-31T23:59:59.999999999Z", want: -1, fast: true},
		{in: "2024-02-29T23:59:59.000000001Z", want: date(2024, 2, 29, 23, 59, 59, 1), fast: true},
		{in: "2000-02-29T00:00:00.000000000Z", want: date(2000, 2, 29, 0, 0, 0, 0), fast: true},
		{in: "2024-12-31T00:00:00.000000000Z", want: date(2024, 12, 31, 0, 0, 0, 0), fast: true},
		{in: "2262-04-11T23:47:16.854775807Z", want: math.MaxInt64, fast: true},
		{in: "1677-09-21T00:12:43.145224192Z", want: math.MinInt64, fast: true},
		// Other RFC3339Nano forms take the slow path.
		{in: "2024-05-06T09:08:09.123456789+02:00", want: ns0},
		{in: "2024-05-06T07:08:09Z", want: date(2024, 5, 6, 7, 8, 9, 0)},
		{in: "2024-05-06T07:08:09.5Z", want: date(2024, 5, 6, 7, 8, 9, 5e8)},
		// Invalid.
		{in: "", bad: true},
		{in: "2023-02-29T00:00:00.000000000Z", bad: true},
		{in: "1900-02-29T00:00:00.000000000Z", bad: true},
		{in: "2024-04-31T00:00:00.000000000Z", bad: true},
		{in: "2024-00-01T00:00:00.000000000Z", bad: true},
		{in: "2024-01-00T00:00:00.000000000Z", bad: true},
		{in: "2024-01-01T24:00:00.000000000Z", bad: true},
		{in: "2024-01-01T00:60:00.000000000Z", bad: true},
		{in: "2024-01-01T00:00:60.000000000Z", bad: true},
		{in: "2024-01-01T00:00:00.00000000xZ", bad: true},
		{in: "2024-01-01 00:00:00.000000000Z", bad: true},
		{in: "2262-04-11T23:47:16.854775808Z", bad: true}, // beyond int64 ns
		{in: "1677-09-21T00:12:43.145224191Z", bad: true},
		{in: "0001-01-01T00:00:00.000000000Z", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseTimestamp([]byte(tt.in))
		if tt.bad {
			if !errors.Is(err, ErrBadTimestamp) {
				t.Errorf("ParseTimestamp(%q) = %d, %v; want ErrBadTimestamp", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseTimestamp(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
		if _, fast := parseFast([]byte(tt.in)); fast != tt.fast {
			t.Errorf("parseFast(%q) ok = %v, want %v", tt.in, fast, tt.fast)
		}
	}
}

func TestTimestampCache(t *testing.T) {
	var c tsCache
	base := time.Date(2024, 12, 31, 23, 59, 58, 0, time.UTC)
	for i := range 5000 {
		want := base.Add(time.Duration(i) * 997 * time.Microsecond)
		in := want.Format("2006-01-02T15:04:05.000000000Z07:00")
		if got, ok := c.parse([]byte(in)); !ok || got != want.UnixNano() {
			t.Fatalf("parse(%q) = %d, %v; want %d", in, got, ok, want.UnixNano())
		}
	}
	// Same seconds, broken fraction or suffix: rejected despite the cache hit.
	for _, in := range []string{"2025-01-01T00:00:02.99x000000Z", "2025-01-01T00:00:02.990000000z"} {
		if got, ok := c.parse([]byte(in)); ok {
			t.Errorf("parse(%q) = %d, want failure", in, got)
		}
	}
}

func TestDaysFromCivil(t *testing.T) {
	d := time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)
	for ; d.Year() < 2500; d = d.AddDate(0, 0, 1) {
		if got, want := daysFromCivil(int64(d.Year()), int64(d.Month()), int64(d.Day())), d.Unix()/86400; got != want {
			t.Fatalf("daysFromCivil(%s) = %d, want %d", d.Format(time.DateOnly), got, want)
		}
		if d.Day() == 1 {
			last := d.AddDate(0, 1, -1).Day()
			if got := daysIn(int64(d.Month()), int64(d.Year())); got != int64(last) {
				t.Fatalf("daysIn(%d, %d) = %d, want %d", d.Month(), d.Year(), got, last)
			}
		}
	}
	if got, want := daysFromCivil(0, 1, 1), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()/86400; got != want {
		t.Errorf("daysFromCivil(0, 1, 1) = %d, want %d", got, want)
	}
}

func TestParseFastDoesNotAllocate(t *testing.T) {
	b := []byte(ts0)
	if n := testing.AllocsPerRun(1000, func() { _, _ = ParseTimestamp(b) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
