package receiver

// Daemon faults against internal/testing/fakedocker: refused log requests, an
// event stream cut while containers start, and a daemon "restart" (every
// stream cut, the API answering 503 for a while). Every test waits on events:
// records delivered, requests received.

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

// fltReqLog records every request the fake daemon received, with whether
// it came while the daemon was "down", and wakes waiters.
type fltReqLog struct {
	mu      sync.Mutex
	reqs    []fltReq
	changed chan struct{}
}

type fltReq struct {
	fakedocker.Request
	down bool
}

func newFltReqLog() *fltReqLog { return &fltReqLog{changed: make(chan struct{})} }

func (l *fltReqLog) add(r fakedocker.Request, down bool) {
	l.mu.Lock()
	l.reqs = append(l.reqs, fltReq{r, down})
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *fltReqLog) count(match func(fltReq) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs {
		if match(r) {
			n++
		}
	}
	return n
}

// wait blocks until cond holds over the requests so far, in order.
func (l *fltReqLog) wait(t *testing.T, what string, cond func([]fltReq) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
	defer cancel()
	for {
		l.mu.Lock()
		ok, ch := cond(l.reqs), l.changed
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func fltFollow(id string) func(fltReq) bool {
	return func(r fltReq) bool { return followLogs(id)(r.Request) }
}

// TestFaultFakeLogsUnavailableThenRecovered answers the first two log
// requests with 503: the follower retries, then reads every line once, and
// the failures are counted in stream_errors.
func TestFaultFakeLogsUnavailableThenRecovered(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			reqs := watchRequests(d)
			const name = "flaky"
			id := running(d, fakedocker.Container{Name: name, Image: "flaky:1"})
			g := newRotGen(name)
			es, _ := g.chunk(300)
			d.WriteEntries(id, es...)
			var refused atomic.Int32
			d.SetLogsFault(func(_ fakedocker.Request, w *fakedocker.FaultWriter) bool {
				if refused.Add(1) <= 2 {
					w.Status(http.StatusServiceUnavailable, "the daemon is busy")
					return true
				}
				return false
			})
			sink := &fakeSink{}
			tt, _ := startReceiver(t, fakeCfg(d), sink, nil)
			reqs.waitCount(t, "logs", 3, anyLogs(id))
			es, _ = g.chunk(200)
			d.WriteEntries(id, es...)
			g.expect(&sink.Checker)
			waitChecker(t, &sink.Checker)
			d.WriteEntries(id, g.line(fakedocker.Stdout, 10, g.clock.Add(1e6))...)
			g.expect(&sink.Checker)
			waitChecker(t, &sink.Checker)
			checkGenerated(t, sink, g, id, "flaky:1")

			all := counter(t, tt, "dockerlogsrotating_stream_errors", "", "")
			connect := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "connect")
			rep := sink.Checker.Report()
			missing, dups, _ := rstTotals(rep)
			t.Logf("lines=%d lost=%d duplicates=%d; log requests=%d (2 refused); stream_errors=%d (read %d, connect %d)",
				g.seq[0]+g.seq[1], missing, dups, reqs.count(anyLogs(id)), all,
				counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "read"), connect)
			if all-connect < 2 {
				t.Errorf("stream_errors (besides connect) = %d, want >= 2 for the two refused opens", all-connect)
			}
		})
	}
}

// TestFaultFakeEventsCutWhileContainersStart cuts the event stream in the
// middle of an event while two containers start, and keeps later event
// streams silent: the re-list (at reconnection and every resync_interval)
// finds both, and a third started afterwards, and every line is read once.
func TestFaultFakeEventsCutWhileContainersStart(t *testing.T) {
	d := fakedocker.New(t)
	reqs := newFltReqLog()
	d.SetFault(func(req fakedocker.Request, _ *fakedocker.FaultWriter) bool {
		reqs.add(req, false)
		return false
	})
	lists := func(r fltReq) bool { return r.Path == "/containers/json" }
	var evMu sync.Mutex
	evN := 0
	evArrived := make(chan struct{})
	cut := make(chan struct{})
	d.SetEventsFault(func(_ fakedocker.Request, w *fakedocker.FaultWriter) bool {
		evMu.Lock()
		evN++
		k := evN
		close(evArrived)
		evArrived = make(chan struct{})
		evMu.Unlock()
		w.WriteHeader(http.StatusOK)
		if k == 1 {
			select {
			case <-cut:
				// Half an event, then the connection ends.
				_ = w.WriteRaw([]byte(`{"Type":"container","Action":"sta`))
			case <-w.Context().Done():
			}
			return true
		}
		w.Hang() // an event stream that never sends anything
		return true
	})
	waitEvents := func(n int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
		defer cancel()
		for {
			evMu.Lock()
			got, ch := evN, evArrived
			evMu.Unlock()
			if got >= n {
				return
			}
			select {
			case <-ch:
			case <-ctx.Done():
				t.Fatalf("timed out waiting for event stream %d (got %d)", n, got)
			}
		}
	}
	cfg := fakeCfg(d)
	cfg.ResyncInterval = 200 * time.Millisecond
	sink := &fakeSink{}
	tt, _ := startReceiver(t, cfg, sink, nil)
	waitEvents(1)
	reqs.wait(t, "the first container list", func(rs []fltReq) bool {
		for _, r := range rs {
			if lists(r) {
				return true
			}
		}
		return false
	})

	type ctr struct {
		id string
		g  *rotGen
	}
	start := func(name string) ctr {
		c := ctr{running(d, fakedocker.Container{Name: name, Image: "ev:1"}), newRotGen(name)}
		es, _ := c.g.chunk(150)
		d.WriteEntries(c.id, es...)
		return c
	}
	a := start("evA")
	close(cut)
	b := start("evB")
	waitEvents(2)
	// Once the reconnected session listed the containers, a container
	// started afterwards can only be found by the periodic re-list: no
	// event ever reaches the receiver.
	reqs.wait(t, "a container list after the reconnection", func(rs []fltReq) bool {
		ev := 0
		for _, r := range rs {
			if r.Path == "/events" {
				ev++
			}
			if ev >= 2 && lists(r) {
				return true
			}
		}
		return false
	})
	c := start("evC")
	all := []ctr{a, b, c}
	for _, x := range all {
		es, _ := x.g.chunk(100)
		d.WriteEntries(x.id, es...)
		x.g.expect(&sink.Checker)
	}
	waitChecker(t, &sink.Checker)
	for _, x := range all {
		d.WriteEntries(x.id, x.g.line(fakedocker.Stdout, 10, x.g.clock.Add(1e6))...)
		x.g.expect(&sink.Checker)
	}
	waitChecker(t, &sink.Checker)
	for _, x := range all {
		checkGenerated(t, sink, x.g, x.id, "ev:1")
	}
	rep := sink.Checker.Report()
	missing, dups, _ := rstTotals(rep)
	evMu.Lock()
	streams := evN
	evMu.Unlock()
	t.Logf("3 containers, %d lines, lost=%d duplicates=%d; event streams=%d (1 cut mid-event, later ones silent), container lists=%d, connect errors=%d",
		len(sink.all()), missing, dups, streams, reqs.count(lists),
		counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "connect"))
	if n := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "connect"); n < 1 {
		t.Errorf("the cut event stream was not counted: stream_errors{connect} = %d", n)
	}
}

// fltLogBytes is the size of the /logs response body that carries es, with
// timestamps: one frame (8-byte header) per message, or raw for a TTY.
func fltLogBytes(es []fakedocker.Entry, tty bool) int {
	n := 0
	for _, e := range es {
		n += len(fakedocker.FormatLine(e, true))
		if !tty {
			n += 8
		}
	}
	return n
}

// TestFaultFakeDaemonRestart plays a daemon restart with faults (a fake
// daemon's Close is final): every open log stream is cut in the middle of
// a message and the event stream in the middle of an event; while "down",
// /version, the container list and inspect answer 503 and log requests
// alternate between 503 and streams cut after 2,500 bytes; then everything
// recovers. The containers kept running and writing throughout: every line
// arrives once, in order.
func TestFaultFakeDaemonRestart(t *testing.T) {
	for _, engine := range []string{"29.1.0", "20.10.24"} {
		t.Run(engine, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			log := newFltReqLog()
			var down atomic.Bool
			d.SetFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
				isDown := down.Load()
				log.add(req, isDown)
				if !isDown {
					return false
				}
				p := req.Path
				if p == "/version" || p == "/containers/json" || (strings.HasPrefix(p, "/containers/") && strings.HasSuffix(p, "/json")) {
					w.Status(http.StatusServiceUnavailable, "the daemon is restarting")
					return true
				}
				return false
			})

			type ctr struct {
				id  string
				tty bool
				g   *rotGen
			}
			var ctrs []*ctr
			for _, c := range []struct {
				name string
				tty  bool
			}{{"keepA", false}, {"keepB", true}} {
				x := &ctr{id: running(d, fakedocker.Container{Name: c.name, Image: "keep:1", TTY: c.tty}), tty: c.tty, g: newRotGen(c.name)}
				x.g.tty = c.tty
				es, _ := x.g.chunk(300)
				d.WriteEntries(x.id, es...)
				ctrs = append(ctrs, x)
			}
			tty := map[string]bool{}
			for _, x := range ctrs {
				tty[x.id] = x.tty
			}

			// Log streams: the first one of each container is cut 20 bytes
			// into the first message written after what it holds now, that
			// is when the test writes at the "restart"; while down, 503 and
			// cut streams alternate.
			var lmu sync.Mutex
			opened := map[string]int{}
			downOpens := map[string]int{}
			d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
				if req.Query.Get("follow") != "1" {
					return false
				}
				id := strings.TrimSuffix(strings.TrimPrefix(req.Path, "/containers/"), "/logs")
				lmu.Lock()
				opened[id]++
				first := opened[id] == 1
				k := 0
				if down.Load() {
					downOpens[id]++
					k = downOpens[id]
				}
				lmu.Unlock()
				switch {
				case k > 0 && k%2 == 1:
					w.Status(http.StatusServiceUnavailable, "the daemon is restarting")
					return true
				case k > 0:
					w.CutAfter(2500)
					return true
				case first && req.Query.Get("since") == "":
					w.CutAfter(fltLogBytes(d.Entries(id), tty[id]) + 20)
					return true
				}
				return false
			})
			// The event stream: silent while up, cut mid-event at the
			// restart, 503 while down, normal after.
			restart := make(chan struct{})
			d.SetEventsFault(func(_ fakedocker.Request, w *fakedocker.FaultWriter) bool {
				select {
				case <-restart:
					if down.Load() {
						w.Status(http.StatusServiceUnavailable, "the daemon is restarting")
						return true
					}
					return false
				default:
				}
				w.WriteHeader(http.StatusOK)
				select {
				case <-restart:
					_ = w.WriteRaw([]byte(`{"Type":"container","Act`))
				case <-w.Context().Done():
				}
				return true
			})

			sink := &fakeSink{}
			tt, _ := startReceiver(t, fakeCfg(d), sink, nil)
			for _, x := range ctrs {
				x.g.expect(&sink.Checker)
			}
			waitChecker(t, &sink.Checker)
			for _, x := range ctrs {
				if n := log.count(fltFollow(x.id)); n != 1 {
					t.Fatalf("container %s: %d log streams before the restart, want 1 (the one the restart cuts)", x.g.name, n)
				}
			}
			before := len(sink.all())

			// Restart: the API goes down, then the containers write, which
			// cuts their streams in the middle of the first new message.
			down.Store(true)
			close(restart)
			for _, x := range ctrs {
				es, _ := x.g.chunk(100)
				d.WriteEntries(x.id, es...)
			}
			// Down until discovery failed twice and every follower tried to
			// reopen three times (a 503, a cut stream, a 503).
			log.wait(t, "retries while down", func(rs []fltReq) bool {
				version := 0
				opens := map[string]int{}
				for _, r := range rs {
					if !r.down {
						continue
					}
					if r.Path == "/version" {
						version++
					}
					if r.Query.Get("follow") == "1" {
						opens[r.Path]++
					}
				}
				if version < 2 {
					return false
				}
				for _, x := range ctrs {
					if opens["/containers/"+x.id+"/logs"] < 3 {
						return false
					}
				}
				return true
			})
			// The containers keep writing while the daemon is down.
			for _, x := range ctrs {
				es, _ := x.g.chunk(100)
				d.WriteEntries(x.id, es...)
			}
			down.Store(false)
			for _, x := range ctrs {
				es, _ := x.g.chunk(100)
				d.WriteEntries(x.id, es...)
				x.g.expect(&sink.Checker)
			}
			waitChecker(t, &sink.Checker)
			for _, x := range ctrs {
				d.WriteEntries(x.id, x.g.line(fakedocker.Stdout, 10, x.g.clock.Add(1e6))...)
				x.g.expect(&sink.Checker)
			}
			waitChecker(t, &sink.Checker)
			for _, x := range ctrs {
				checkGenerated(t, sink, x.g, x.id, "keep:1")
			}

			downReqs := log.count(func(r fltReq) bool { return r.down })
			version503 := log.count(func(r fltReq) bool { return r.down && r.Path == "/version" })
			var opensDown []int
			for _, x := range ctrs {
				opensDown = append(opensDown, log.count(func(r fltReq) bool { return r.down && fltFollow(x.id)(r) }))
			}
			rep := sink.Checker.Report()
			missing, dups, _ := rstTotals(rep)
			gaps := counter(t, tt, "dockerlogsrotating_cursor_gaps", "", "")
			t.Logf("2 containers (1 TTY), lines=%d (%d before the restart), lost=%d duplicates=%d gaps=%d; while down: %d requests, /version 503 x%d, log opens per container %v; stream_errors read=%d connect=%d; duplicates_skipped=%d",
				len(sink.all()), before, missing, dups, gaps, downReqs, version503, opensDown,
				counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "read"),
				counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "connect"),
				counter(t, tt, "dockerlogsrotating_duplicates_skipped", "", ""))
			if gaps != 0 {
				t.Errorf("cursor_gaps = %d: nothing was rotated away", gaps)
			}
			if n := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "connect"); n < 2 {
				t.Errorf("stream_errors{connect} = %d, want >= 2 (the cut event stream, the 503s)", n)
			}
		})
	}
}

// TestFaultFakeDockerResendsMessagesAtItsRotation replays what Docker
// 20.10's json-file follower does at its own file rotation: it sends again
// messages it has already sent, with their original timestamps. On the
// engine here (TestFaultDockerRotatesFilesAwayWhileTheReceiverLags) blocks
// of 2 to about 20 messages came again in file order, e.g. stderr 2357, 2358,
// stdout 2355..2358. Each line must still be delivered once.
func TestFaultFakeDockerResendsMessagesAtItsRotation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		streams []int // the re-sent block, in file order
	}{
		{name: "one", streams: []int{fakedocker.Stdout}},
		{name: "block_of_six", streams: []int{fakedocker.Stderr, fakedocker.Stderr, fakedocker.Stdout, fakedocker.Stdout, fakedocker.Stdout, fakedocker.Stdout}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedocker.New(t, fakedocker.WithEngineVersion("20.10.24"))
			const name = "resend"
			id := running(d, fakedocker.Container{Name: name, Image: "resend:1"})
			g := newRotGen(name)
			sink := &fakeSink{}
			tt, _ := startReceiver(t, fakeCfg(d), sink, nil)
			es, _ := g.chunk(200)
			d.WriteEntries(id, es...)
			var block []fakedocker.Entry
			for _, s := range tc.streams {
				g.clock = g.clock.Add(150 * time.Microsecond)
				block = append(block, g.line(s, 50, g.clock)...)
			}
			d.WriteEntries(id, block...)
			d.WriteEntries(id, block...) // the copy Docker sends
			es, _ = g.chunk(100)
			d.WriteEntries(id, es...)
			g.expect(&sink.Checker)
			waitChecker(t, &sink.Checker)
			d.WriteEntries(id, g.line(fakedocker.Stdout, 10, g.clock.Add(1e6))...)
			g.expect(&sink.Checker)
			waitChecker(t, &sink.Checker)
			missing, dups, _ := rstTotals(sink.Checker.Report())
			t.Logf("lines=%d, re-sent block of %d: lost=%d duplicates=%d duplicates_skipped=%d",
				g.seq[0]+g.seq[1], len(block), missing, dups, counter(t, tt, "dockerlogsrotating_duplicates_skipped", "", ""))
			checkGenerated(t, sink, g, id, "resend:1")
		})
	}
}

// TestFaultFakeEventsRequestUnansweredDoesNotStopDiscovery: a daemon that
// accepts /events but never answers it (a hung daemon, a proxy holding the
// request) must not stop discovery. The periodic re-list still finds a
// container started meanwhile, or the session times out and reconnects.
func TestFaultFakeEventsRequestUnansweredDoesNotStopDiscovery(t *testing.T) {
	d := fakedocker.New(t)
	var first atomic.Bool
	d.SetEventsFault(func(_ fakedocker.Request, w *fakedocker.FaultWriter) bool {
		if first.CompareAndSwap(false, true) {
			w.Hang() // no response headers, ever
			return true
		}
		return false
	})
	cfg := fakeCfg(d)
	cfg.ResyncInterval = 200 * time.Millisecond
	cfg.Timeout = time.Second
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, nil)
	ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
	defer cancel()
	must(t, d.WaitEventStreams(ctx, 1)) // the hung request
	const name = "unseen"
	id := running(d, fakedocker.Container{Name: name, Image: "ev:1"})
	g := newRotGen(name)
	es, _ := g.chunk(50)
	d.WriteEntries(id, es...)
	g.expect(&sink.Checker)
	waitCheckerFor(t, &sink.Checker, 10*time.Second)
	missing, dups, _ := rstTotals(sink.Checker.Report())
	t.Logf("lines=%d lost=%d duplicates=%d", g.seq[0]+g.seq[1], missing, dups)
	checkGenerated(t, sink, g, id, "ev:1")
}

// TestFaultFakeResentBlockIsNotCountedInThePosition: Docker 20.10 re-sends
// a block of messages inside a live follow stream (see above), but a later
// stream, read from the files, does not have those copies. The copies must
// not count in the position's skip: otherwise the next reopen skips as many
// new messages as there were copies, silently (the anchor matches, so no
// gap is reported). On the real engine
// (TestFaultDockerRotatesFilesAwayWhileTheReceiverLags/rotation_1s, about
// 1 run in 8) each hole had exactly as many lines as the block re-sent
// just before it: 5 and 5, 2 and 2.
func TestFaultFakeResentBlockIsNotCountedInThePosition(t *testing.T) {
	for _, tc := range []struct {
		engine string
		after  int // lines written after the block, before the reopen
	}{
		// Engines before 23: the position counts every message of its
		// 50 ms window, the copies too, whatever follows them. (The copies
		// were seen with Engine 20.10's json-file follower, which Engine 23
		// replaced; from 23 on the guard is off, so that two equal lines
		// with one stamp both arrive:
		// TestFakeEqualLinesWithOneTimestampBothArrive.)
		{"20.10.24", 20},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			engine := tc.engine
			d := fakedocker.New(t, fakedocker.WithEngineVersion(engine))
			reqs := watchRequests(d)
			const name = "resentpos"
			id := running(d, fakedocker.Container{Name: name, Image: "resend:1"})
			g := newRotGen(name)
			es, _ := g.chunk(60)
			d.WriteEntries(id, es...)
			var block []fakedocker.Entry
			for _, s := range []int{fakedocker.Stdout, fakedocker.Stderr, fakedocker.Stdout} {
				g.clock = g.clock.Add(150 * time.Microsecond)
				block = append(block, g.line(s, 50, g.clock)...)
			}
			d.WriteEntries(id, block...)
			if tc.after > 0 {
				es, _ = g.chunk(tc.after)
				d.WriteEntries(id, es...)
			}

			// The first stream is the stored log with the block sent twice,
			// as Docker 20.10 does around its rotation; it ends once read.
			end := make(chan struct{})
			var n atomic.Int32
			d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
				if req.Query.Get("follow") != "1" || n.Add(1) > 1 {
					return false
				}
				var raw []byte
				for _, e := range d.Entries(id) {
					raw = append(raw, fakedocker.Frame(e.Stream, fakedocker.FormatLine(e, true))...)
					if e.Time.Equal(block[len(block)-1].Time) && string(e.Text) == string(block[len(block)-1].Text) {
						for _, b := range block {
							raw = append(raw, fakedocker.Frame(b.Stream, fakedocker.FormatLine(b, true))...)
						}
					}
				}
				_ = w.WriteRaw(raw)
				select {
				case <-end:
				case <-w.Context().Done():
				}
				return true
			})
			sink := &fakeSink{}
			tt, _ := startReceiver(t, fakeCfg(d), sink, nil)
			g.expect(&sink.Checker)
			waitChecker(t, &sink.Checker)
			close(end) // a clean end of the stream: the follower reopens at once
			reqs.waitCount(t, "reopen", 2, followLogs(id))
			es, _ = g.chunk(40)
			d.WriteEntries(id, es...)
			g.expect(&sink.Checker)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = sink.Checker.Wait(ctx) // a lost line never comes: report below
			rep := sink.Checker.Report()
			missing, dups, _ := rstTotals(rep)
			t.Logf("lines=%d, block of %d re-sent in the first stream: lost=%d duplicates=%d (the copies: see TestFaultFakeDockerResendsMessagesAtItsRotation) gaps=%d",
				g.seq[0]+g.seq[1], len(block), missing, dups, counter(t, tt, "dockerlogsrotating_cursor_gaps", "", ""))
			if missing > 0 {
				t.Fatalf("%d lines lost after the reopen:\n%s", missing, rep)
			}
		})
	}
}
