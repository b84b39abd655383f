package decode

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestRawReaderSplitCR: a TTY line that conmon stored as its text and then
// "\r" arrives from Podman as "TS text" + "TS \r\n"; with SplitCR the two
// are one message again, and a line that merely ends with a space is left
// alone, as is everything without SplitCR.
func TestRawReaderSplitCR(t *testing.T) {
	const in = "2026-12-03T16:01:24Z line 122\r\n" +
		"2026-12-03T16:01:24Z line 123" + "2026-12-03T16:01:24Z \r\n" +
		"2026-12-03T16:01:24+00:00 line 124" + "2026-12-03T16:01:25+00:00 \r\n" +
		"2026-12-03T16:01:25Z ends with a space \r\n" +
		"2026-12-03T16:01:27Z an older stamp 2026-12-03T16:01:25Z \r\n" +
		"2026-12-03T16:01:27Z a stamp 2 s later 2026-12-03T16:01:29Z \r\n"
	want := []string{"line 122\r", "line 123\r", "line 124\r", "ends with a space \r",
		"an older stamp 2026-12-03T16:01:25Z \r", "a stamp 2 s later 2026-12-03T16:01:29Z \r"}
	for _, split := range []bool{true, false} {
		r := NewRawReader(strings.NewReader(in), 0)
		r.SplitCR = split
		var got []string
		for {
			f, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Partial || f.BadTimestamp {
				t.Fatalf("frame %+v", f)
			}
			got = append(got, string(f.Payload))
		}
		if split {
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("SplitCR: got %q\nwant %q", got, want)
			}
		} else if len(got) != len(want) || got[1] != "line 1232026-12-03T16:01:24Z \r" {
			t.Errorf("without SplitCR the messages must stay as sent: %q", got)
		}
	}
}
