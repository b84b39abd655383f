package receiver

// A hostile daemon: the fake daemon answers the follow requests of one
// container with garbage (a frame header announcing 4 GiB, bad headers, an
// unknown stream byte, a line that never ends, timestamps that do not
// parse, one byte a second), while a second container is served normally.
// For every case the receiver must keep running, deliver the normal
// container's lines exactly once during and after the attack, reset and
// count the hostile stream, and keep its memory bounded while the hostile
// daemon announces or sends hundreds of MiB.
//
// Memory is the Go heap of the whole test process (receiver, fake daemon
// and test), sampled every millisecond through runtime/metrics while the
// case runs: the peak of /memory/classes/heap/objects:bytes (live and not
// yet swept objects) above its value after a GC at the start of the case.

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

const (
	// hostileVolume is what an endless line sends before it finally ends.
	hostileVolume = 256 << 20
	// heapBound is the most the heap may grow during a case.
	heapBound = 64 << 20
	// hostileMaxLog is max_log_size in these tests.
	hostileMaxLog = 1 << 20
	// normalLatencyBound bounds how long a normal container's line may take
	// to arrive while the other container's stream is hostile.
	normalLatencyBound = 5 * time.Second
)

// Docker timestamps of the hostile container's messages.
var (
	hostileT0 = time.Date(2026, 1, 2, 3, 4, 5, 100, time.UTC) // "hostile ok", before the attack
	hostileT1 = hostileT0.Add(time.Second)                    // the attack (endless line, slow line)
	hostileT2 = hostileT0.Add(2 * time.Second)                // "hostile after", once the attack ended
)

// ---------------------------------------------------------------------------
// Harness

// hostileSignal wakes waiters whenever something they may wait for changed.
type hostileSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *hostileSignal) changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *hostileSignal) notify() {
	s.mu.Lock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
	s.mu.Unlock()
}

// waitCtx blocks until cond holds or ctx ends; cond is checked after
// every notify.
func (s *hostileSignal) waitCtx(ctx context.Context, cond func() bool) bool {
	for {
		ch := s.changed()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// hostileRecord is a delivered record of the hostile container, summarized
// so that the sink does not hold what the attack sent.
type hostileRecord struct {
	Body      string // whole when at most 4 KiB, else its first 64 bytes
	Len       int
	CRC       uint32
	Timestamp int64
	Attrs     map[string]any
}

// hostileSink keeps the normal container's records in a fakeSink and only
// a summary of the hostile container's.
type hostileSink struct {
	fakeSink
	hostileID string
	ev        *hostileSignal

	hmu  sync.Mutex
	hrec []hostileRecord
}

func (s *hostileSink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	keep := plog.NewLogs()
	for _, rl := range ld.ResourceLogs().All() {
		id, _ := rl.Resource().Attributes().Get("container.id")
		if id.Str() != s.hostileID {
			rl.CopyTo(keep.ResourceLogs().AppendEmpty())
			continue
		}
		var recs []hostileRecord
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				b := lr.Body().Str()
				r := hostileRecord{Len: len(b), CRC: crc32.ChecksumIEEE([]byte(b)), Timestamp: int64(lr.Timestamp()), Attrs: lr.Attributes().AsRaw()}
				if len(b) <= 4096 {
					r.Body = strings.Clone(b)
				} else {
					r.Body = strings.Clone(b[:64])
				}
				recs = append(recs, r)
			}
		}
		s.hmu.Lock()
		s.hrec = append(s.hrec, recs...)
		s.hmu.Unlock()
	}
	// Last, so that waiters woken by it see the hostile records too.
	err := s.fakeSink.ConsumeLogs(ctx, keep)
	s.ev.notify()
	return err
}

func (s *hostileSink) hostile() []hostileRecord {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	return append([]hostileRecord(nil), s.hrec...)
}

func (s *hostileSink) hasHostile(body string) bool {
	for _, r := range s.hostile() {
		if r.Body == body {
			return true
		}
	}
	return false
}

// hostileEnv is one case: a fake daemon with a normal and a hostile
// container, and a receiver reading both.
type hostileEnv struct {
	t       *testing.T
	d       *fakedocker.Daemon
	normal  string
	hostile string
	sink    *hostileSink
	tt      *componenttest.Telemetry
	ev      *hostileSignal

	opens     atomic.Int64 // follow requests of the hostile container
	sent      atomic.Int64 // body bytes the hostile daemon wrote
	announced atomic.Int64 // bytes announced in frame headers or lines

	normalN    int // normal lines written
	maxLatency time.Duration

	rmu  sync.Mutex
	reqs []*hostileReq // follow requests of the hostile container
}

// requestLog describes the first hostile requests: since and bytes sent.
func (e *hostileEnv) requestLog() string {
	e.rmu.Lock()
	defer e.rmu.Unlock()
	var b strings.Builder
	for i, r := range e.reqs {
		if i == 12 {
			fmt.Fprintf(&b, " ... %d more", len(e.reqs)-i)
			break
		}
		fmt.Fprintf(&b, " #%d since=%d sent=%s;", r.n, r.since, hostileBytes(r.sentBytes.Load()))
	}
	return b.String()
}

// hostileReq is one follow request of the hostile container.
type hostileReq struct {
	e     *hostileEnv
	w     *fakedocker.FaultWriter
	n     int64 // 1 for the first follow request
	since int64 // the since parameter in ns, 0 when absent
	mux   bool
	sent  int64 // bytes written (by the serving goroutine)

	sentBytes atomic.Int64 // sent, for other goroutines
}

type hostileOpts struct {
	tty      bool
	rotation time.Duration
}

func newHostileEnv(t *testing.T, o hostileOpts, serve func(r *hostileReq)) *hostileEnv {
	t.Helper()
	d := fakedocker.New(t)
	e := &hostileEnv{t: t, d: d, ev: &hostileSignal{}}
	e.normal = running(d, fakedocker.Container{Name: "normal", Image: "normal:1"})
	e.hostile = running(d, fakedocker.Container{Name: "hostile", Image: "hostile:1", TTY: o.tty})
	d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
		if req.Path != "/containers/"+e.hostile+"/logs" {
			return false
		}
		if req.Query.Get("follow") != "1" {
			w.Status(500, "hostile: only follow requests are expected")
			return true
		}
		r := &hostileReq{e: e, w: w, n: e.opens.Add(1), since: hostileSince(req.Query.Get("since")), mux: !o.tty}
		e.rmu.Lock()
		e.reqs = append(e.reqs, r)
		e.rmu.Unlock()
		e.ev.notify()
		serve(r)
		return true
	})
	e.sink = &hostileSink{hostileID: e.hostile, ev: e.ev}
	cfg := fakeCfg(d)
	cfg.RotationInterval = o.rotation
	cfg.MaxLogSize = hostileMaxLog
	e.tt, _ = startReceiver(t, cfg, e.sink, nil)
	e.normalLine() // the receiver is up and reading
	return e
}

// hostileSince reads the "sec.nanos" since parameter.
func hostileSince(s string) int64 {
	sec, frac, _ := strings.Cut(s, ".")
	a, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0
	}
	frac = (frac + "000000000")[:9]
	b, _ := strconv.ParseInt(frac, 10, 64)
	return a*1e9 + b
}

// write sends b and flushes; false once the client is gone.
func (r *hostileReq) write(b []byte) bool {
	if r.w.Context().Err() != nil {
		return false
	}
	if err := r.w.WriteRaw(b); err != nil {
		return false
	}
	r.sent += int64(len(b))
	r.sentBytes.Add(int64(len(b)))
	r.e.sent.Add(int64(len(b)))
	r.e.ev.notify()
	return true
}

// message formats one message the way the daemon sends it: a stdcopy
// frame for a multiplexed stream, the bare text for a TTY's raw stream.
func (r *hostileReq) message(stream int, payload []byte) []byte {
	if r.mux {
		return fakedocker.Frame(stream, payload)
	}
	return payload
}

func (r *hostileReq) entry(ts time.Time, text string, partial bool) []byte {
	if !r.mux && !partial {
		text += "\r" // a TTY ends its lines with \r\n
	}
	return r.message(fakedocker.Stdout, fakedocker.FormatLine(fakedocker.Entry{Time: ts, Text: []byte(text), Partial: partial}, true))
}

// okLine sends a valid line stamped hostileT0, as a daemon would: not
// when the request asks for later messages only.
func (r *hostileReq) okLine() bool {
	if r.since > hostileT0.UnixNano() {
		return true
	}
	return r.write(r.entry(hostileT0, "hostile ok", false))
}

// garbage sends b repeated until limit bytes went out or the client left.
func (r *hostileReq) garbage(b []byte, limit int64) {
	// Small writes, so that sent counts what the client could have read
	// (a write cut by the client going away is not counted).
	chunk := bytes.Repeat(b, (64<<10)/len(b))
	for sent := int64(0); sent < limit; sent += int64(len(chunk)) {
		if !r.write(chunk) {
			return
		}
	}
}

// wait blocks until cond holds or the request ends.
func (r *hostileReq) wait(cond func() bool) bool {
	return r.e.ev.waitCtx(r.w.Context(), cond)
}

// normalLine writes one line to the normal container and waits for it.
func (e *hostileEnv) normalLine() {
	e.t.Helper()
	e.normalN++
	body := "normal " + strconv.Itoa(e.normalN)
	start := time.Now()
	e.d.WriteLines(e.normal, fakedocker.Stdout, body)
	e.sink.waitBody(e.t, e.normal, body)
	e.maxLatency = max(e.maxLatency, time.Since(start))
}

// attack runs the case: it writes a normal line every pace (and waits for
// it) until done holds (checked whenever the hostile daemon or the sink
// reports progress) and at least 5 lines went out, measuring memory all
// along; then it writes 5 more normal lines and checks each normal line
// arrived exactly once.
func (e *hostileEnv) attack(pace time.Duration, done func() bool) hostileResult {
	e.t.Helper()
	return e.attackWithin(3*fakeWait, pace, done)
}

// attackWithin is attack failing the test after limit.
func (e *hostileEnv) attackWithin(limit, pace time.Duration, done func() bool) hostileResult {
	e.t.Helper()
	mem := watchHostileMemory(e.t)
	start := time.Now()
	first := e.normalN
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	finished := make(chan bool, 1)
	go func() { finished <- e.ev.waitCtx(ctx, done) }()
	tick := time.NewTicker(pace)
	defer tick.Stop()
	for over := false; !over || e.normalN-first < 5; {
		e.normalLine()
		select {
		case <-tick.C:
		case ok := <-finished:
			if !ok {
				e.t.Fatalf("the case did not complete in %v: %d follow opens, %s sent; hostile records %+v; per request: %s",
					limit, e.opens.Load(), hostileBytes(e.sent.Load()), e.sink.hostile(), e.requestLog())
			}
			over = true
		}
	}
	res := hostileResult{took: time.Since(start), mem: mem.end(), during: e.normalN - first}
	for range 5 {
		e.normalLine()
	}
	seen := map[string]int{}
	for _, r := range e.sink.of(e.normal) {
		seen[r.Body]++
	}
	for i := 1; i <= e.normalN; i++ {
		if n := seen["normal "+strconv.Itoa(i)]; n != 1 {
			e.t.Errorf("normal line %d delivered %d times", i, n)
		}
	}
	if len(seen) != e.normalN {
		e.t.Errorf("normal container: %d distinct records, want %d", len(seen), e.normalN)
	}
	if e.maxLatency > normalLatencyBound {
		e.t.Errorf("a normal line took %v to arrive (bound %v)", e.maxLatency, normalLatencyBound)
	}
	res.opens, res.sent, res.announced = e.opens.Load(), e.sent.Load(), e.announced.Load()
	res.hostile = e.sink.hostile()
	res.normal, res.maxLatency = e.normalN, e.maxLatency
	for _, typ := range []string{"frame", "read", "daemon", "stall"} {
		if n := counter(e.t, e.tt, "dockerlogsrotating_stream_errors", "error.type", typ); n > 0 {
			res.errors += fmt.Sprintf(" %s=%d", typ, n)
		}
	}
	res.truncated = counter(e.t, e.tt, "dockerlogsrotating_lines_truncated", "", "")
	return res
}

// hostileResult is what a case observed.
type hostileResult struct {
	took       time.Duration
	mem        hostileMem
	opens      int64
	sent       int64
	announced  int64
	hostile    []hostileRecord
	errors     string // stream_errors by error.type
	truncated  int64
	during     int // normal lines written during the attack
	normal     int // normal lines in all
	maxLatency time.Duration
}

// report logs the case's numbers and checks the memory bound.
func (r hostileResult) report(t *testing.T, name string) {
	t.Helper()
	r.log(t, name)
	if r.mem.peak > heapBound {
		t.Errorf("%s: the heap grew by %s, more than %s", name, hostileBytes(int64(r.mem.peak)), hostileBytes(heapBound))
	}
}

// log logs the case's numbers.
func (r hostileResult) log(t *testing.T, name string) {
	t.Helper()
	errs := r.errors
	if errs == "" {
		errs = " none"
	}
	t.Logf("%s: receiver: %d follow opens of the hostile container, stream_errors:%s, lines_truncated=%d, %d hostile records; "+
		"daemon: announced %s, sent %s; memory: heap peak +%s (live peak +%s, baseline heap %s), allocated %s; "+
		"normal container: %d lines during the attack, %d in all, each exactly once, slowest %v; took %v",
		name, r.opens, errs, r.truncated, len(r.hostile),
		hostileBytes(r.announced), hostileBytes(r.sent), hostileBytes(int64(r.mem.peak)), hostileBytes(int64(r.mem.livePeak)), hostileBytes(int64(r.mem.base)), hostileBytes(int64(r.mem.allocated)),
		r.during, r.normal, r.maxLatency.Round(time.Millisecond), r.took.Round(time.Millisecond))
}

func hostileBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// hostileMem is what watchHostileMemory measured, relative to its start.
type hostileMem struct {
	base      uint64 // heap objects after the initial GC
	peak      uint64 // highest heap objects minus base
	livePeak  uint64 // highest live heap (after a GC) minus the initial one
	allocated uint64 // bytes allocated meanwhile
}

type hostileMemWatch struct {
	stop, done chan struct{}
	once       sync.Once
	res        hostileMem
	base       [2]uint64
	peak       [2]uint64
	allocs     uint64 // MemStats.TotalAlloc at the start
}

var hostileMemSamples = []string{"/memory/classes/heap/objects:bytes", "/gc/heap/live:bytes"}

// watchHostileMemory samples the heap every millisecond until end.
func watchHostileMemory(t *testing.T) *hostileMemWatch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := make([]metrics.Sample, len(hostileMemSamples))
	for i, n := range hostileMemSamples {
		s[i].Name = n
	}
	metrics.Read(s)
	m := &hostileMemWatch{stop: make(chan struct{}), done: make(chan struct{}), allocs: ms.TotalAlloc}
	for i := range s {
		m.base[i] = s[i].Value.Uint64()
	}
	m.peak = [2]uint64{m.base[0], m.base[1]}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
			metrics.Read(s)
			m.peak[0] = max(m.peak[0], s[0].Value.Uint64())
			m.peak[1] = max(m.peak[1], s[1].Value.Uint64())
		}
	}()
	t.Cleanup(func() { m.end() })
	return m
}

func (m *hostileMemWatch) end() hostileMem {
	m.once.Do(func() {
		close(m.stop)
		<-m.done
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		m.res = hostileMem{
			base:      m.base[0],
			peak:      m.peak[0] - m.base[0],
			livePeak:  m.peak[1] - m.base[1],
			allocated: ms.TotalAlloc - m.allocs,
		}
	})
	return m.res
}

func hostileHeader(stream byte, size uint32) []byte {
	return []byte{stream, 0, 0, 0, byte(size >> 24), byte(size >> 16), byte(size >> 8), byte(size)}
}

// checkHostileOK requires that the hostile container delivered its valid line
// exactly once and nothing else.
func checkHostileOK(t *testing.T, recs []hostileRecord) {
	t.Helper()
	if len(recs) != 1 || recs[0].Body != "hostile ok" || recs[0].Timestamp != hostileT0.UnixNano() {
		t.Errorf("hostile container delivered %+v; want only \"hostile ok\" once, stamped %d", recs, hostileT0.UnixNano())
	}
}

// ---------------------------------------------------------------------------
// Cases

// TestHostileFakeDaemonBrokenFramesResetTheStream: after one valid line the
// hostile stream breaks its framing and then streams garbage. The receiver
// drops the stream at the broken header without reading (or allocating) the
// announced size, counts stream_errors{error.type=frame}, reopens it with
// backoff, skips the valid line it already delivered, and the normal
// container is not disturbed.
func TestHostileFakeDaemonBrokenFramesResetTheStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name   string
		attack func(r *hostileReq)
	}{{
		name: "frame header announcing 4 GiB",
		attack: func(r *hostileReq) {
			r.e.announced.Add(math.MaxUint32)
			if r.write(hostileHeader(fakedocker.Stdout, math.MaxUint32)) {
				r.garbage([]byte("A"), math.MaxUint32) // the announced payload, if anyone reads it
			}
		},
	}, {
		name: "garbage headers",
		attack: func(r *hostileReq) {
			// Reserved header bytes set, then noise.
			r.e.announced.Add(0x00133700)
			if r.write([]byte{1, 0xde, 0xad, 0xbe, 0x00, 0x13, 0x37, 0x00}) {
				r.garbage(noise, 1<<30)
			}
		},
	}, {
		name: "unknown stream byte 7",
		attack: func(r *hostileReq) {
			msg := fakedocker.FormatLine(fakedocker.Entry{Time: hostileT1, Text: []byte("on stream 7")}, true)
			r.e.announced.Add(int64(len(msg)))
			if r.write(fakedocker.Frame(7, msg)) {
				r.garbage(noise, 1<<30)
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newHostileEnv(t, hostileOpts{rotation: 500 * time.Millisecond}, func(r *hostileReq) {
				if r.okLine() {
					tc.attack(r)
				}
			})
			// The third open means two broken streams were closed and counted.
			res := e.attack(20*time.Millisecond, func() bool { return e.opens.Load() >= 3 })
			res.report(t, tc.name)
			checkHostileOK(t, res.hostile)
			if n := counter(t, e.tt, "dockerlogsrotating_stream_errors", "error.type", "frame"); n < 2 {
				t.Errorf("stream_errors{error.type=frame} = %d, want >= 2 (one per broken stream)", n)
			}
			if n := counter(t, e.tt, "dockerlogsrotating_stream_rotations", "reason", "error"); n < 2 {
				t.Errorf("stream_rotations{reason=error} = %d, want >= 2", n)
			}
		})
	}
}

// TestHostileFakeDaemonEndlessLineIsTruncatedOnce: a line that never ends
// (16 KiB parts with one timestamp, hostileVolume bytes, on a multiplexed
// and on a TTY stream) is emitted once, truncated to max_log_size, and the
// rest of it is dropped without being buffered; once it finally ends, the
// next line of that container is delivered whole.
func TestHostileFakeDaemonEndlessLineIsTruncatedOnce(t *testing.T) {
	for _, tc := range []endlessCase{{name: "multiplexed"}, {name: "tty", tty: true}} {
		t.Run(tc.name, func(t *testing.T) { endlessLine(t, tc, 3*fakeWait) })
	}
}

// TestHostileFakeDaemonEndlessLineAcrossRotations rotates the stream twice
// in the middle of an endless line (the hostile daemon stalls after 64 and
// 128 MiB of it, the rotation closes the stream): each reopen gets the line
// again from its first part (since is its timestamp, which every part
// shares), and it must still yield exactly one truncated record, and reach
// the line's end and the next line.
func TestHostileFakeDaemonEndlessLineAcrossRotations(t *testing.T) {
	endlessLine(t, endlessCase{name: "multiplexed across rotations", rotation: 300 * time.Millisecond, stalls: []int64{64 << 20, 128 << 20}}, 20*time.Second)
}

type endlessCase struct {
	name     string
	tty      bool
	rotation time.Duration
	stalls   []int64 // request i (from 1) stalls after stalls[i-1] bytes of the line
}

func endlessLine(t *testing.T, tc endlessCase, limit time.Duration) {
	chunk := []byte(pattern("e", fakedocker.DockerSplitSize))
	wantBody := bytes.Repeat(chunk, hostileMaxLog/len(chunk))
	wantCRC := crc32.ChecksumIEEE(wantBody)
	{
		{
			var mu sync.Mutex
			var sinces []int64
			e := newHostileEnv(t, hostileOpts{tty: tc.tty, rotation: tc.rotation}, func(r *hostileReq) {
				mu.Lock()
				sinces = append(sinces, r.since)
				mu.Unlock()
				// The log is: ok (T0), the line's parts (T1), its end (T1),
				// after (T2); a request gets what is at or after since.
				if !r.okLine() {
					return
				}
				after := r.entry(hostileT2, "hostile after", false)
				if r.since > hostileT1.UnixNano() {
					if r.write(after) {
						r.w.Hang()
					}
					return
				}
				limit, final := int64(hostileVolume), true
				if int(r.n) <= len(tc.stalls) {
					limit, final = tc.stalls[r.n-1], false
				}
				var batch []byte
				if tc.tty {
					// One timestamp, then bytes without a newline.
					if !r.write(r.entry(hostileT1, "", true)) {
						return
					}
					batch = bytes.Repeat(chunk, 64)
				} else {
					part := fakedocker.Frame(fakedocker.Stdout, fakedocker.FormatLine(fakedocker.Entry{Time: hostileT1, Text: chunk, Partial: true}, true))
					batch = bytes.Repeat(part, 64)
				}
				for line := int64(0); line < limit; line += 64 * int64(len(chunk)) {
					if !r.write(batch) {
						return
					}
					r.e.announced.Add(64 * int64(len(chunk)))
				}
				if !final {
					r.w.Hang() // a stall: the rotation closes the stream
					return
				}
				var end []byte
				if tc.tty {
					end = []byte("\n")
				} else {
					end = r.entry(hostileT1, "", false) // the final part: just the newline
				}
				if r.write(append(end, after...)) {
					r.w.Hang()
				}
			})
			res := e.attackWithin(limit, 20*time.Millisecond, func() bool { return e.sink.hasHostile("hostile after") })
			res.report(t, "endless line ("+tc.name+")")
			if res.sent < hostileVolume {
				t.Errorf("the hostile daemon sent only %s", hostileBytes(res.sent))
			}
			mu.Lock()
			got := append([]int64(nil), sinces...)
			mu.Unlock()
			if want := len(tc.stalls) + 1; len(got) < want || (tc.rotation == 0 && len(got) != want) {
				t.Errorf("the hostile stream was opened %d times, want %d", len(got), want)
			}
			for i := 1; i < len(tc.stalls)+1 && i < len(got); i++ {
				if got[i] != hostileT1.UnixNano() {
					t.Errorf("reopen %d asked since=%d, want the line's timestamp %d", i, got[i], hostileT1.UnixNano())
				}
			}
			// Over a TTY stream the hostile daemon sends one timestamp and
			// then bare bytes: every later 16 KiB part lacks its prefix and
			// is counted as a bad frame (Docker prefixes each part).
			if res.errors != "" && !tc.tty {
				t.Errorf("stream errors:%s; an endless line is not an error", res.errors)
			}
			if res.truncated != 1 {
				t.Errorf("lines_truncated = %d, want 1", res.truncated)
			}
			// What the receiver copies is the truncated line (1 MiB, twice:
			// assembler and record), not what it drops.
			if res.mem.allocated > uint64(res.sent)/8 {
				t.Errorf("%s allocated while %s were sent: the receiver allocates in proportion to the dropped bytes",
					hostileBytes(int64(res.mem.allocated)), hostileBytes(res.sent))
			}
			recs := res.hostile
			if len(recs) != 3 {
				t.Fatalf("hostile records %+v; want ok, the truncated line, after", recs)
			}
			if recs[0].Body != "hostile ok" || recs[2].Body != "hostile after" || recs[2].Timestamp != hostileT2.UnixNano() {
				t.Errorf("hostile records %+v", recs)
			}
			tr := recs[1]
			if tr.Len > hostileMaxLog || tr.Len != len(wantBody) || tr.CRC != wantCRC {
				t.Errorf("truncated record: %d bytes (crc %x), want the line's first %d bytes (crc %x)", tr.Len, tr.CRC, len(wantBody), wantCRC)
			}
			if tr.Attrs["docker.log.truncated"] != true || tr.Timestamp != hostileT1.UnixNano() {
				t.Errorf("truncated record: attributes %v, timestamp %d; want docker.log.truncated and %d", tr.Attrs, tr.Timestamp, hostileT1.UnixNano())
			}
			// Nothing more after a while: the rotations that follow replay
			// "hostile after" and must drop it.
			if tc.rotation > 0 {
				n := e.opens.Load()
				ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
				defer cancel()
				if !e.ev.waitCtx(ctx, func() bool { return e.opens.Load() >= n+2 }) {
					t.Fatal("no more rotations of the hostile stream")
				}
				e.normalLine()
				if recs := e.sink.hostile(); len(recs) != 3 {
					t.Errorf("after two more rotations the hostile container delivered %d records, want 3", len(recs))
				}
			}
		}
	}
}

// badTimestampLines are messages whose timestamp prefix does not parse.
var badTimestampLines = []string{
	"2026-13-45T25:61:61.000000000Z bad month, day and time",
	"not-a-timestamp at all",
	"", // an empty message without a timestamp
	"2026-01-02T03:04:05.123456789Zglued to the text",
	"2262-04-12T00:00:00.000000000Z beyond int64 nanoseconds",
	"1677-09-20T00:00:00.000000000Z before int64 nanoseconds",
	"2026-01-02T03:04:05.1+25:00 offset out of range",
	"\x00\x01\x02binary",
}

// badTimestampCase runs a hostile stream that sends, each in its own
// batch, a valid line, lines whose timestamp does not parse, and a valid
// line again.
func badTimestampCase(t *testing.T) (*hostileEnv, hostileResult) {
	e := newHostileEnv(t, hostileOpts{}, func(r *hostileReq) {
		if !r.okLine() || !r.wait(func() bool { return r.e.sink.hasHostile("hostile ok") }) {
			return
		}
		var msgs []byte
		for _, l := range badTimestampLines {
			msgs = append(msgs, r.message(fakedocker.Stdout, []byte(l+"\n"))...)
		}
		r.e.announced.Add(int64(len(msgs)))
		if !r.write(msgs) || !r.wait(func() bool { return len(r.e.sink.hostile()) == 1+len(badTimestampLines) }) {
			return
		}
		if r.write(r.entry(hostileT2, "hostile after", false)) {
			r.w.Hang()
		}
	})
	res := e.attack(20*time.Millisecond, func() bool { return e.sink.hasHostile("hostile after") })
	return e, res
}

// TestHostileFakeDaemonUnparsableTimestampsAreDeliveredAsText: a message
// whose timestamp does not parse is not a broken frame: it is delivered
// once, its whole text as the body, without a timestamp (0), and the
// stream goes on.
func TestHostileFakeDaemonUnparsableTimestampsAreDeliveredAsText(t *testing.T) {
	e, res := badTimestampCase(t)
	res.report(t, "unparsable timestamps")
	// Each is counted (error.type=frame) so it is not silent, and the
	// stream goes on.
	if want := fmt.Sprintf(" frame=%d", len(badTimestampLines)); res.errors != want {
		t.Errorf("stream errors:%s, want%s", res.errors, want)
	}
	if res.opens != 1 {
		t.Errorf("the hostile stream was opened %d times, want once", res.opens)
	}
	want := []hostileRecord{{Body: "hostile ok", Timestamp: hostileT0.UnixNano()}}
	for _, l := range badTimestampLines {
		want = append(want, hostileRecord{Body: l})
	}
	want = append(want, hostileRecord{Body: "hostile after", Timestamp: hostileT2.UnixNano()})
	got := res.hostile
	if len(got) != len(want) {
		t.Fatalf("hostile records %+v, want %d", got, len(want))
	}
	for i := range want {
		if got[i].Body != want[i].Body || got[i].Timestamp != want[i].Timestamp {
			t.Errorf("record %d: %q stamped %d, want %q stamped %d", i, got[i].Body, got[i].Timestamp, want[i].Body, want[i].Timestamp)
		}
	}
	if n := counter(t, e.tt, "dockerlogsrotating_lines_read", "stream", "stdout"); n != int64(e.normalN+len(want)) {
		t.Errorf("lines_read{stream=stdout} = %d, want %d", n, e.normalN+len(want))
	}
}

// TestHostileFakeDaemonUnparsableTimestampDoesNotSkewEmitLag: a batch whose
// first line has no timestamp (0) must not record an emit_lag of 56 years.
func TestHostileFakeDaemonUnparsableTimestampDoesNotSkewEmitLag(t *testing.T) {
	e, _ := badTimestampCase(t)
	// The oldest real timestamp of the case is hostileT0.
	if mx, n := histogramMax(t, e.tt, "dockerlogsrotating_emit_lag"); mx > time.Since(hostileT0).Seconds()+60 {
		t.Errorf("emit_lag max = %.0f s over %d batches: a line without a timestamp was taken as stamped 1970-01-01", mx, n)
	}
}

// TestHostileFakeDaemonOneByteASecond: the hostile stream trickles one
// valid line, one byte a second (44 s). The receiver waits for it without
// resetting anything (idle_timeout is off), the normal container is served
// meanwhile, and the slow line finally arrives once. It runs in parallel
// with the other parallel tests of the package (it mostly waits), so its
// memory numbers are the process's, shared with them.
func TestHostileFakeDaemonOneByteASecond(t *testing.T) {
	t.Parallel()
	const every = time.Second
	e := newHostileEnv(t, hostileOpts{}, func(r *hostileReq) {
		msg := r.entry(hostileT1, "slow", false)
		r.e.announced.Add(int64(len(msg)))
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := range msg {
			if !r.write(msg[i : i+1]) {
				return
			}
			select {
			case <-tick.C:
			case <-r.w.Context().Done():
				return
			}
		}
		r.w.Hang()
	})
	res := e.attack(200*time.Millisecond, func() bool { return e.sink.hasHostile("slow") })
	// The heap is shared with the parallel tests: logged, not checked (44
	// bytes cannot grow it).
	res.log(t, "one byte a second (memory shared with parallel tests)")
	if res.errors != "" {
		t.Errorf("stream errors:%s", res.errors)
	}
	if res.opens != 1 {
		t.Errorf("the slow stream was opened %d times, want once", res.opens)
	}
	if len(res.hostile) != 1 || res.hostile[0].Body != "slow" || res.hostile[0].Timestamp != hostileT1.UnixNano() {
		t.Errorf("hostile records %+v, want \"slow\" once", res.hostile)
	}
}
