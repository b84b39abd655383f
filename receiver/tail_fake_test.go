package receiver

import (
	"strconv"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
)

// TestFakeReopenAsksForABoundedTail checks that a reopen asks the daemon
// for a bounded tail with since (so it does not rescan the whole log), that
// the daemon re-sends only a few messages, and that a container that fell
// further behind than the window (waiting for a slot) is reopened with a
// larger window, never with since alone, and still gets every line once.
func TestFakeReopenAsksForABoundedTail(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			// While one container holds the slot the other gets 1,500
			// lines: more than the first 1,000-message window. (Its first
			// turns, in the 20,000-line history, leave it further behind.)
			r := tailReopens(t, engine, 1500, 6)
			if r.misses == 0 || r.maxTail <= 1000 {
				t.Fatalf("want tail misses and a grown window, got %d misses, largest window %d", r.misses, r.maxTail)
			}
		})
	}
}

type tailResult struct {
	tailed, misses int
	maxTail        int
}

// tailReopens runs two containers through one slot with rotation, writing
// perTurn lines to each while the other waits, for turns turns. It checks
// every line arrives once, that no follow request with since went without
// tail, and that few messages were re-sent.
func tailReopens(t *testing.T, engine string, perTurn, turns int) tailResult {
	t.Helper()
	d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
	reqs := watchRequests(d)
	names := []string{"tail-a", "tail-b"}
	ids := []string{running(d, fakedocker.Container{Name: names[0], Image: "t:1"}), running(d, fakedocker.Container{Name: names[1], Image: "t:1"})}
	sink := &fakeSink{}
	c := &sink.Checker
	// Lines 1 ms apart, as a busy container's: a position's since window
	// (50 ms before Engine 23) then holds few of them.
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
	write(ids[0], names[0], 1, 20000)
	write(ids[1], names[1], 1, 20000)
	cfg := fakeCfg(d)
	cfg.RotationInterval = 100 * time.Millisecond
	cfg.MaxConcurrentStreams = 1 // the other container waits and falls behind
	tt, _ := startReceiver(t, cfg, sink, nil)

	total := 20000
	for range turns {
		for i, id := range ids {
			write(id, names[i], total+1, perTurn)
			reqs.waitRotation(t, id)
		}
		total += perTurn
	}
	c.Expect(names[0], "stdout", total)
	c.Expect(names[1], "stdout", total)
	waitChecker(t, c)
	if err := c.Report().Err(); err != nil {
		t.Fatal(err)
	}
	var r tailResult
	for _, id := range ids {
		for _, q := range d.RequestsTo("/containers/" + id + "/logs") {
			if q.Query.Get("follow") != "1" || q.Query.Get("since") == "" {
				continue
			}
			n, err := strconv.Atoi(q.Query.Get("tail"))
			if err != nil || n < 1000 {
				t.Errorf("a reopen without a tail window of at least 1,000: %v", q.Query)
				continue
			}
			r.tailed++
			r.maxTail = max(r.maxTail, n)
		}
	}
	dupes := counter(t, tt, "dockerlogsrotating_duplicates_skipped", "", "")
	r.misses = int(counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "tail_miss"))
	t.Logf("reopens with tail=%d (largest %d) tail_miss=%d duplicates_skipped=%d", r.tailed, r.maxTail, r.misses, dupes)
	// A reopen re-sends what is at or after since; with 1 ms between lines
	// that is about 50 messages before Engine 23. (A full rescan would
	// re-send the whole history each time.)
	if dupes > 200*int64(r.tailed) {
		t.Fatalf("%d messages re-sent over %d reopens", dupes, r.tailed)
	}
	return r
}
