package receiver

// Framing through the whole receiver, against the fake daemon: every
// message is one record, partial lines are reassembled byte-exact,
// max_log_size truncates long lines, invalid UTF-8 is replaced and flagged.

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

func TestFakeFramingEveryMessageIsOneRecordWithoutItsNewline(t *testing.T) {
	base := time.Now().Truncate(time.Millisecond)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	type line struct {
		stream int
		text   string
		ts     time.Time
		want   want
	}
	tests := []struct {
		name  string
		tty   bool
		lines []line
	}{{
		name: "multiplexed stdout and stderr",
		lines: []line{
			{fakedocker.Stdout, "out one", at(1), want{stream: "stdout", body: "out one"}},
			{fakedocker.Stderr, "err one", at(2), want{stream: "stderr", body: "err one"}},
			{fakedocker.Stdout, "", at(3), want{stream: "stdout", body: ""}},
			{fakedocker.Stderr, "", at(3), want{stream: "stderr", body: ""}},
			{fakedocker.Stdout, "  spaced\tline  ", at(4), want{stream: "stdout", body: "  spaced\tline  "}},
			{fakedocker.Stdout, "carriage return kept\r", at(5), want{stream: "stdout", body: "carriage return kept\r"}},
			{fakedocker.Stderr, "same time as the next", at(6), want{stream: "stderr", body: "same time as the next"}},
			{fakedocker.Stdout, "same time as the previous", at(6), want{stream: "stdout", body: "same time as the previous"}},
			{fakedocker.Stderr, "2024-01-01T00:00:00.000000000Z looks like a timestamp", at(7), want{stream: "stderr", body: "2024-01-01T00:00:00.000000000Z looks like a timestamp"}},
			{fakedocker.Stdout, "last", at(8), want{stream: "stdout", body: "last"}},
		},
	}, {
		name: "tty",
		tty:  true,
		lines: []line{
			{fakedocker.Stdout, "hello\r", at(1), want{stream: "stdout", body: "hello"}},
			{fakedocker.Stdout, "\r", at(2), want{stream: "stdout", body: ""}},
			{fakedocker.Stdout, "", at(3), want{stream: "stdout", body: ""}},
			{fakedocker.Stdout, "no carriage return", at(4), want{stream: "stdout", body: "no carriage return"}},
			{fakedocker.Stdout, "inner\rcarriage return\r", at(5), want{stream: "stdout", body: "inner\rcarriage return"}},
			{fakedocker.Stdout, "two\r\r", at(6), want{stream: "stdout", body: "two\r"}},
			{fakedocker.Stderr, "sent on stderr\r", at(7), want{stream: "stdout", body: "sent on stderr"}},
			{fakedocker.Stdout, "last\r", at(8), want{stream: "stdout", body: "last"}},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedocker.New(t)
			id := running(d, fakedocker.Container{Name: "framing", Image: "app:1", TTY: tc.tty})
			var es []fakedocker.Entry
			var wants []want
			for _, l := range tc.lines {
				es = append(es, fakedocker.Entry{Time: l.ts, Stream: l.stream, Text: []byte(l.text)})
				w := l.want
				w.ts = l.ts
				wants = append(wants, w)
			}
			d.WriteEntries(id, es...)
			sink := &fakeSink{}
			startReceiver(t, fakeCfg(d), sink, nil)

			// A barrier line: everything before it in the log has been
			// delivered, duplicates included, once it arrives.
			barrier := d.WriteLines(id, fakedocker.Stdout, "barrier")
			got := sink.waitBody(t, id, "barrier")
			wants = append(wants, want{stream: "stdout", body: "barrier", ts: barrier[0]})
			checkRecords(t, got, wants)
			checkResource(t, got, id, "framing", "app:1")
		})
	}
}

func TestFakePartialLinesAreReassembledByteExact(t *testing.T) {
	// Each case writes its lines and returns the records it expects and
	// how many of them were merged from several parts.
	tests := []struct {
		name  string
		tty   bool
		write func(d *fakedocker.Daemon, id string) (wants []want, merged int64)
	}{{
		name: "multiplexed",
		write: func(d *fakedocker.Daemon, id string) ([]want, int64) {
			var wants []want
			// 16 KiB + 1 on stdout: two parts.
			long1 := pattern("a", fakedocker.DockerSplitSize+1)
			ts := d.WriteSplit(id, fakedocker.Stdout, long1, 0)
			wants = append(wants, want{stream: "stdout", body: long1, ts: ts})
			// 100 KiB on stderr: seven parts.
			long2 := pattern("b", 100<<10)
			ts = d.WriteSplit(id, fakedocker.Stderr, long2, 0)
			wants = append(wants, want{stream: "stderr", body: long2, ts: ts})
			// A 3-byte rune across the 16384 boundary: the first part ends
			// with its first byte, the second starts with the other two.
			utf := strings.Repeat("u", fakedocker.DockerSplitSize-1) + "€ and more: ü中😀"
			ts = d.WriteSplit(id, fakedocker.Stdout, utf, 0)
			wants = append(wants, want{stream: "stdout", body: utf, ts: ts})
			// Exactly 16 KiB: a full part, then a final part that is only "\n".
			exact := pattern("c", fakedocker.DockerSplitSize)
			ts = time.Now()
			d.WriteEntries(id,
				fakedocker.Entry{Time: ts, Stream: fakedocker.Stderr, Text: []byte(exact), Partial: true},
				fakedocker.Entry{Time: ts, Stream: fakedocker.Stderr, Text: nil})
			wants = append(wants, want{stream: "stderr", body: exact, ts: ts})
			// stdout and stderr parts interleaved; stderr's line completes first.
			tOut, tErr := time.Now().Add(time.Millisecond), time.Now().Add(2*time.Millisecond)
			outA, outB, outC := pattern("o", fakedocker.DockerSplitSize), pattern("p", fakedocker.DockerSplitSize), "stdout end"
			errA, errB := pattern("e", fakedocker.DockerSplitSize), "stderr end"
			d.WriteEntries(id,
				fakedocker.Entry{Time: tOut, Stream: fakedocker.Stdout, Text: []byte(outA), Partial: true},
				fakedocker.Entry{Time: tErr, Stream: fakedocker.Stderr, Text: []byte(errA), Partial: true},
				fakedocker.Entry{Time: tOut, Stream: fakedocker.Stdout, Text: []byte(outB), Partial: true},
				fakedocker.Entry{Time: tErr, Stream: fakedocker.Stderr, Text: []byte(errB)},
				fakedocker.Entry{Time: tOut, Stream: fakedocker.Stdout, Text: []byte(outC)},
			)
			wants = append(wants,
				want{stream: "stderr", body: errA + errB, ts: tErr},
				want{stream: "stdout", body: outA + outB + outC, ts: tOut})
			return wants, 6
		},
	}, {
		// A TTY stream has no frames: the receiver must tell a 16 KiB part
		// from a whole line, and strip the "\r" of the "\r\n" ending.
		name: "tty",
		tty:  true,
		write: func(d *fakedocker.Daemon, id string) ([]want, int64) {
			var wants []want
			long1 := pattern("a", fakedocker.DockerSplitSize+1)
			ts := d.WriteSplit(id, fakedocker.Stdout, long1+"\r", 0)
			wants = append(wants, want{stream: "stdout", body: long1, ts: ts})
			long2 := pattern("b", 100<<10)
			ts = d.WriteSplit(id, fakedocker.Stdout, long2+"\r", 0)
			wants = append(wants, want{stream: "stdout", body: long2, ts: ts})
			utf := strings.Repeat("u", fakedocker.DockerSplitSize-2) + "😀 and more"
			ts = d.WriteSplit(id, fakedocker.Stdout, utf+"\r", 0)
			wants = append(wants, want{stream: "stdout", body: utf, ts: ts})
			// The "\r" ends the first part; the final part is only "\n".
			crAtEdge := pattern("c", fakedocker.DockerSplitSize-1)
			ts = time.Now()
			d.WriteEntries(id,
				fakedocker.Entry{Time: ts, Text: []byte(crAtEdge + "\r"), Partial: true},
				fakedocker.Entry{Time: ts, Text: nil})
			wants = append(wants, want{stream: "stdout", body: crAtEdge, ts: ts})
			// The final part is only "\r\n".
			exact := pattern("d", fakedocker.DockerSplitSize)
			ts = d.WriteSplit(id, fakedocker.Stdout, exact+"\r", 0)
			wants = append(wants, want{stream: "stdout", body: exact, ts: ts})
			// A line of exactly 16 KiB - 2 with its "\r": one whole message
			// of 16 KiB - 1 bytes, not a part.
			almost := pattern("e", fakedocker.DockerSplitSize-2)
			ts = d.WriteSplit(id, fakedocker.Stdout, almost+"\r", 0)
			wants = append(wants, want{stream: "stdout", body: almost, ts: ts})
			short := "short\r"
			ts = d.WriteSplit(id, fakedocker.Stdout, short, 0)
			wants = append(wants, want{stream: "stdout", body: "short", ts: ts})
			return wants, 5
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedocker.New(t)
			id := running(d, fakedocker.Container{Name: "partials", Image: "registry.local:5000/team/app:v2", TTY: tc.tty})
			wants, merged := tc.write(d, id)
			barrier := "barrier"
			if tc.tty {
				barrier += "\r"
			}
			ts := d.WriteLines(id, fakedocker.Stdout, barrier)[0]
			wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})

			sink := &fakeSink{}
			tt, _ := startReceiver(t, fakeCfg(d), sink, nil)
			got := sink.waitBody(t, id, "barrier")
			checkRecords(t, got, wants)
			checkResource(t, got, id, "partials", "registry.local:5000/team/app:v2")
			for _, r := range got {
				if !utf8.ValidString(r.Body) {
					t.Errorf("record %q is not valid UTF-8", short(r.Body))
				}
			}
			if m := counter(t, tt, "dockerlogsrotating_lines_merged", "", ""); m != merged {
				t.Errorf("lines_merged = %d, want %d", m, merged)
			}
			if n := counter(t, tt, "dockerlogsrotating_lines_truncated", "", ""); n != 0 {
				t.Errorf("lines_truncated = %d, want 0", n)
			}
		})
	}
}

func TestFakeMaxLogSizeTruncatesLongLinesAndKeepsTheNextOnesIntact(t *testing.T) {
	const limit = 1 << 20
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "big", Image: "big:latest"})
	truncated := map[string]any{"docker.log.truncated": true}

	var wants []want
	ascii := pattern("x", 3<<20)
	ts := d.WriteSplit(id, fakedocker.Stdout, ascii, 0)
	wants = append(wants, want{stream: "stdout", body: ascii[:limit], ts: ts, attrs: truncated})
	ts = d.WriteLines(id, fakedocker.Stdout, "after ascii")[0]
	wants = append(wants, want{stream: "stdout", body: "after ascii", ts: ts})

	// 3-byte runes: 1 MiB = 349525 runes + 1 byte, so the cut must fall
	// one byte short of the limit, on a rune boundary.
	runes := strings.Repeat("€", (3<<20)/3)
	ts = d.WriteSplit(id, fakedocker.Stderr, runes, 0)
	wants = append(wants, want{stream: "stderr", body: runes[:limit-1], ts: ts, attrs: truncated})
	ts = d.WriteLines(id, fakedocker.Stderr, "after runes")[0]
	wants = append(wants, want{stream: "stderr", body: "after runes", ts: ts})

	// Exactly the limit is kept whole; one byte more is not.
	exact := pattern("y", limit)
	ts = d.WriteSplit(id, fakedocker.Stdout, exact, 0)
	wants = append(wants, want{stream: "stdout", body: exact, ts: ts})
	over := pattern("z", limit+1)
	ts = d.WriteSplit(id, fakedocker.Stdout, over, 0)
	wants = append(wants, want{stream: "stdout", body: over[:limit], ts: ts, attrs: truncated})
	ts = d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
	wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})

	cfg := fakeCfg(d)
	cfg.MaxLogSize = limit
	sink := &fakeSink{}
	tt, _ := startReceiver(t, cfg, sink, nil)
	got := sink.waitBody(t, id, "barrier")
	checkRecords(t, got, wants)
	checkResource(t, got, id, "big", "big:latest")
	for _, r := range got {
		if len(r.Body) > limit {
			t.Errorf("a record of %d bytes exceeds max_log_size %d", len(r.Body), limit)
		}
		if !utf8.ValidString(r.Body) {
			t.Errorf("record %q is not valid UTF-8", short(r.Body))
		}
	}
	if n := counter(t, tt, "dockerlogsrotating_lines_truncated", "", ""); n != 3 {
		t.Errorf("lines_truncated = %d, want 3", n)
	}
}

func TestFakeInvalidUTF8IsReplacedAndFlagged(t *testing.T) {
	const rc = "\uFFFD"
	invalid := map[string]any{"docker.log.invalid_utf8": true}
	tests := []struct {
		stream int
		text   string
		body   string
		attrs  map[string]any
	}{
		{fakedocker.Stdout, "ok\xffbad", "ok" + rc + "bad", invalid},
		{fakedocker.Stderr, "cut rune \xe2\x82", "cut rune " + rc + rc, invalid},
		{fakedocker.Stdout, "\xc0\xaf overlong", rc + rc + " overlong", invalid},
		{fakedocker.Stdout, "surrogate \xed\xa0\x80!", "surrogate " + rc + rc + rc + "!", invalid},
		{fakedocker.Stderr, "\x80", rc, invalid},
		{fakedocker.Stdout, "valid: héllo € 😀 " + rc, "valid: héllo € 😀 " + rc, nil},
	}
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "utf8", Image: "utf8:1"})
	base := time.Now()
	var wants []want
	for i, tc := range tests {
		ts := base.Add(time.Duration(i) * time.Microsecond)
		d.Write(id, fakedocker.Entry{Time: ts, Stream: tc.stream, Text: []byte(tc.text)})
		wants = append(wants, want{stream: fakedocker.StreamName(tc.stream), body: tc.body, ts: ts, attrs: tc.attrs})
	}
	// Invalid bytes in a line Docker split: the merged line is checked.
	bad := strings.Repeat("s", fakedocker.DockerSplitSize) + "\xfe tail"
	ts := d.WriteSplit(id, fakedocker.Stdout, bad, 0)
	wants = append(wants, want{stream: "stdout", body: strings.Repeat("s", fakedocker.DockerSplitSize) + rc + " tail", ts: ts, attrs: invalid})
	ts = d.WriteLines(id, fakedocker.Stdout, "barrier")[0]
	wants = append(wants, want{stream: "stdout", body: "barrier", ts: ts})

	sink := &fakeSink{}
	startReceiver(t, fakeCfg(d), sink, nil)
	got := sink.waitBody(t, id, "barrier")
	checkRecords(t, got, wants)
	checkResource(t, got, id, "utf8", "utf8:1")
}
