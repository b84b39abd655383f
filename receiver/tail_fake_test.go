package receiver

import (
	"strconv"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/fakedocker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/seqcheck"
)

// TestFakeReopenAsksForABoundedTail checks that a reopen asks the daemon
// for a bounded tail with since (so it does not rescan the whole log), that
// the daemon re-sends only a few messages, and that a container that fell
// further behind than the window (waiting for a slot) is reopened without
// tail and still gets every line once.
func TestFakeReopenAsksForABoundedTail(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			reqs := watchRequests(d)
			ids := []string{running(d, fakedocker.Container{Name: "tail-a", Image: "t:1"}), running(d, fakedocker.Container{Name: "tail-b", Image: "t:1"})}
			sink := &fakeSink{}
			c := &sink.Checker
			// Lines 1 ms apart, as a busy container's: a position's
			// since window (50 ms before Engine 23) then holds few of them.
			clock := map[string]time.Time{}
			write := func(id, name string, from, n int) {
				es := make([]fakedocker.Entry, n)
				for i := range es {
					if clock[id].IsZero() {
						clock[id] = time.Unix(1_800_000_000, 0)
					}
					clock[id] = clock[id].Add(time.Millisecond)
					es[i] = fakedocker.Entry{Time: clock[id], Stream: fakedocker.Stdout, Text: []byte(seqcheck.Format(name, "stdout", from+i, 40, false))}
				}
				d.WriteEntries(id, es...)
			}
			// A long history: a full scan would re-send all of it.
			write(ids[0], "tail-a", 1, 20000)
			write(ids[1], "tail-b", 1, 20000)
			cfg := fakeCfg(d)
			cfg.RotationInterval = 100 * time.Millisecond
			cfg.MaxConcurrentStreams = 1 // the other container waits and falls behind
			tt, _ := startReceiver(t, cfg, sink, nil)

			total := 20000
			for range 6 {
				for i, id := range ids {
					name := []string{"tail-a", "tail-b"}[i]
					// While one container holds the slot the other gets
					// 1,500 lines: more than the 1,000-message window.
					write(id, name, total+1, 1500)
					reqs.waitRotation(t, id)
				}
				total += 1500
			}
			c.Expect("tail-a", "stdout", total)
			c.Expect("tail-b", "stdout", total)
			waitChecker(t, c)
			if err := c.Report().Err(); err != nil {
				t.Fatal(err)
			}
			tailed, untailed := 0, 0
			for _, r := range d.RequestsTo("/containers/" + ids[0] + "/logs") {
				if r.Query.Get("follow") != "1" || r.Query.Get("since") == "" {
					continue
				}
				if n, err := strconv.Atoi(r.Query.Get("tail")); err == nil && n >= 1000 {
					tailed++
				} else {
					untailed++
				}
			}
			dupes := counter(t, tt, "dockerlogsrotating_duplicates_skipped", "", "")
			misses := counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "tail_miss")
			t.Logf("reopens with tail=%d without=%d tail_miss=%d duplicates_skipped=%d", tailed, untailed, misses, dupes)
			if tailed == 0 || misses == 0 {
				t.Fatalf("want tailed reopens and tail misses, got %d and %d", tailed, misses)
			}
			// A reopen without tail re-sends what is at or after since (a
			// full rescan would re-send the whole history each time); with
			// 1 ms between lines that is about 50 messages before Engine 23.
			if dupes > 200*int64(tailed+untailed) {
				t.Fatalf("%d messages re-sent over %d reopens", dupes, tailed+untailed)
			}
		})
	}
}
