package receiver

import (
	"sync"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

// TestFakeStalledStreamIsReopened stalls the first log stream, before its
// headers or after its first line, and checks the watchdog reopens it and
// the lines arrive once.
func TestFakeStalledStreamIsReopened(t *testing.T) {
	for _, tc := range []struct {
		name   string
		midway bool
	}{{"before headers", false}, {"mid body", true}} {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedocker.New(t)
			id := running(d, fakedocker.Container{Name: "stall", Image: "stall:1"})
			first := fakedocker.Entry{Time: time.Unix(1_800_000_000, 5), Stream: fakedocker.Stdout, Text: []byte("one")}
			d.WriteEntries(id, first)
			var mu sync.Mutex
			armed := true
			d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
				mu.Lock()
				fire := armed && req.Query.Get("follow") == "1"
				armed = armed && !fire
				mu.Unlock()
				if !fire {
					return false
				}
				if tc.midway {
					w.WriteHeader(200)
					_ = w.WriteRaw(fakedocker.Frame(fakedocker.Stdout, fakedocker.FormatLine(first, true)))
				}
				w.Hang()
				return true
			})
			cfg := fakeCfg(d)
			cfg.IdleTimeout = 300 * time.Millisecond
			cfg.FirstByteTimeout = 300 * time.Millisecond
			sink := &fakeSink{}
			tt, _ := startReceiver(t, cfg, sink, nil)

			sink.waitBody(t, id, "one")
			second := d.WriteLines(id, fakedocker.Stdout, "two")[0]
			got := sink.waitBody(t, id, "two")
			checkRecords(t, got, []want{{stream: "stdout", body: "one", ts: first.Time}, {stream: "stdout", body: "two", ts: second}})
			if n := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "stall"); n < 1 {
				t.Errorf("stall not counted (stream_errors{error.type=stall} = %d)", n)
			}
			// A stream stalled before its headers never opened, so only a
			// stream stalled midway counts as closed for idleness.
			if n := counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "idle"); tc.midway && n < 1 {
				t.Errorf("no stream closed for idleness (stream_rotations{reason=idle} = %d)", n)
			}
		})
	}
}
