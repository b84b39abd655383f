// Package fakedocker is an in-process fake of the Docker Engine API for unit
// tests that need exact control over log framing, timestamps and faults.
//
// It listens on a unix socket and speaks enough of the real wire protocol for
// the real moby client (github.com/moby/moby/client) to work against it:
// version negotiation via /_ping, /version, /info, container list and inspect,
// /containers/{id}/logs (stdcopy-multiplexed or raw TTY, history + follow) and
// /events (JSON lines, with since-replay).
//
// The behaviours that matter for a log receiver are modelled after the real
// daemon:
//
//   - one stdcopy frame (non-TTY) or one raw write (TTY) per log message,
//     flushed after every message; partial (16 KiB-split) messages are sent
//     without the trailing '\n';
//   - Content-Type is application/vnd.docker.multiplexed-stream only for
//     non-TTY containers on API >= 1.42; older API versions announce
//     application/vnd.docker.raw-stream even though the body is multiplexed;
//   - "tail" is applied before "since"; "since" is either a prefix skip
//     (Docker >= 23, [SincePrefix]) or a per-message filter (Docker < 23,
//     [SinceFilter]); "until" ends the response at the first later message;
//   - a follow stream of a running container ends with a clean EOF when the
//     container stops, after everything written before the stop was sent.
//
// Everything runs on the daemon's own goroutines; [Daemon.Close] (registered
// with t.Cleanup) cuts every open stream (clients see an unexpected EOF) and
// waits for every handler and connection goroutine to finish.
//
// Typical use:
//
//	d := fakedocker.New(t)
//	d.AddContainer(fakedocker.Container{ID: id, Name: "web"})
//	d.Start(id)
//	d.WriteLines(id, fakedocker.Stdout, "a", "b")
//	cli, _ := client.New(client.WithHost(d.Endpoint())) // + t.Cleanup(cli.Close)
//	// ... run the code under test; d.WaitLogStreams(ctx, 1); d.Write(...); d.Stop(id)
package fakedocker

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/common"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"
)

// SinceMode selects how the "since" parameter of /logs is applied.
type SinceMode int

const (
	// SinceAuto derives the mode from the engine version (major >= 23 →
	// SincePrefix, otherwise SinceFilter). It is the default.
	SinceAuto SinceMode = iota
	// SincePrefix is Docker >= 23: messages are skipped while their time is
	// before since; from the first message with time >= since on, nothing
	// more is filtered for the rest of the request (follow included).
	SincePrefix
	// SinceFilter is Docker < 23: every message (history and follow) with a
	// time before since is dropped.
	SinceFilter
)

func (m SinceMode) String() string {
	switch m {
	case SincePrefix:
		return "prefix"
	case SinceFilter:
		return "filter"
	default:
		return "auto"
	}
}

// MinAPIVersion is the oldest API version the fake accepts in a /vX.Y prefix.
const MinAPIVersion = "1.24"

const (
	defaultEngineVersion = "29.1.0"
	defaultAPIVersion    = "1.52"
	legacyAPIVersion     = "1.41" // what Docker 20.10 speaks
	eventsReplayLimit    = 256    // the daemon keeps this many events for "since"
)

type config struct {
	engineVersion string
	apiVersion    string
	sinceMode     SinceMode
	clock         func() time.Time
	info          *Info // see WithInfo
}

// Option configures a Daemon.
type Option func(*config)

// WithEngineVersion sets the engine version reported by /version and the
// Server header ("29.1.0" by default). It also picks the default API version
// (major >= 23 → "1.52", otherwise "1.41") and the default SinceMode.
func WithEngineVersion(v string) Option { return func(c *config) { c.engineVersion = v } }

// WithAPIVersion sets the maximum API version the daemon speaks; it is
// announced by /_ping and /version, and requests with a higher /vX.Y prefix
// are rejected with 400 like the real daemon does.
func WithAPIVersion(v string) Option { return func(c *config) { c.apiVersion = v } }

// WithSinceMode overrides the "since" semantics of /logs.
func WithSinceMode(m SinceMode) Option { return func(c *config) { c.sinceMode = m } }

// WithClock replaces time.Now for StartedAt/FinishedAt, event times and the
// automatic timestamps of WriteLines and friends (which are additionally made
// strictly increasing).
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// Request is one HTTP request the daemon received.
type Request struct {
	Method string
	// Path without the /vX.Y prefix, e.g. "/containers/abc/logs".
	Path string
	// APIVersion is the X.Y of the /vX.Y prefix, "" when there was none.
	APIVersion string
	Query      url.Values
	Header     http.Header
}

// Daemon is a fake Docker daemon. Create it with New.
type Daemon struct {
	t        testing.TB
	cfg      config
	sockPath string
	tmpDir   string // removed on Close when we created it ourselves

	ln        net.Listener
	srv       *http.Server
	ctx       context.Context // base context of every request; cancelled by Close
	cancel    context.CancelFunc
	serveDone chan struct{}
	handlers  sync.WaitGroup // running ServeHTTP calls
	conns     sync.WaitGroup // open (non-hijacked) server connections
	closeOnce sync.Once

	mu          sync.Mutex
	closed      bool
	containers  map[string]*ctr // by ID
	order       []*ctr          // creation order (removed ones included, flagged)
	idSeq       int
	requests    []Request
	lastAuto    time.Time // last automatic log timestamp
	lastEvent   time.Time
	events      []events.Message
	eventsCh    chan struct{} // closed and replaced when an event is appended
	evReset     chan struct{} // closed and replaced by ResetEvents
	logStreams  int
	evStreams   int
	streamsCh   chan struct{} // closed and replaced when logStreams/evStreams change
	fault       FaultFunc
	logsFault   FaultFunc
	eventsFault FaultFunc
}

// New starts a fake daemon listening on a fresh unix socket. It is stopped
// automatically with t.Cleanup.
func New(t testing.TB, opts ...Option) *Daemon {
	t.Helper()
	cfg := config{engineVersion: defaultEngineVersion, clock: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	modern := engineMajor(cfg.engineVersion) >= 23
	if cfg.apiVersion == "" {
		cfg.apiVersion = defaultAPIVersion
		if !modern {
			cfg.apiVersion = legacyAPIVersion
		}
	}
	if cfg.sinceMode == SinceAuto {
		cfg.sinceMode = SinceFilter
		if modern {
			cfg.sinceMode = SincePrefix
		}
	}

	d := &Daemon{
		t:          t,
		cfg:        cfg,
		containers: make(map[string]*ctr),
		eventsCh:   make(chan struct{}),
		evReset:    make(chan struct{}),
		streamsCh:  make(chan struct{}),
		serveDone:  make(chan struct{}),
	}

	const sockName = "docker.sock"
	dir := t.TempDir()
	if len(dir)+1+len(sockName) > 100 { // sun_path is ~104-108 bytes
		var err error
		if dir, err = os.MkdirTemp("", "fd"); err != nil {
			t.Fatalf("fakedocker: %v", err)
		}
		d.tmpDir = dir
	}
	d.sockPath = filepath.Join(dir, sockName)
	ln, err := net.Listen("unix", d.sockPath)
	if err != nil {
		if d.tmpDir != "" {
			_ = os.RemoveAll(d.tmpDir)
		}
		t.Fatalf("fakedocker: listen: %v", err)
	}
	d.ln = ln
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.srv = &http.Server{
		Handler:           d,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return d.ctx },
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				d.conns.Add(1) // runs on the Serve goroutine, before Serve can return
			case http.StateClosed, http.StateHijacked:
				d.conns.Done()
			}
		},
	}
	go func() {
		defer close(d.serveDone)
		_ = d.srv.Serve(ln)
	}()
	t.Cleanup(d.Close)
	return d
}

// Endpoint returns the daemon address for client.WithHost, e.g.
// "unix:///tmp/TestX/001/docker.sock".
func (d *Daemon) Endpoint() string { return "unix://" + d.sockPath }

// SocketPath returns the filesystem path of the unix socket.
func (d *Daemon) SocketPath() string { return d.sockPath }

// EngineVersion returns the engine version the daemon reports.
func (d *Daemon) EngineVersion() string { return d.cfg.engineVersion }

// APIVersion returns the (maximum) API version the daemon reports.
func (d *Daemon) APIVersion() string { return d.cfg.apiVersion }

// SinceMode returns the effective "since" semantics.
func (d *Daemon) SinceMode() SinceMode { return d.cfg.sinceMode }

// Close stops the daemon: it ends every open stream (follow, events, hung
// faults), closes every connection and waits for all handler goroutines.
// It is idempotent and is called automatically on t.Cleanup.
func (d *Daemon) Close() {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		// Close the listener and every connection first, so open streams end
		// abruptly (the client sees an unexpected EOF, not a clean end of
		// body it could mistake for a container stop), then wake every
		// follower, event stream and Hang.
		_ = d.srv.Close()
		d.cancel()
		<-d.serveDone       // no more StateNew after this
		d.handlers.Wait()   // every ServeHTTP has returned
		d.conns.Wait()      // every connection is closed
		if d.tmpDir != "" { // the socket itself is unlinked by the listener
			_ = os.RemoveAll(d.tmpDir)
		}
	})
}

// Requests returns a copy of every request received so far, in order.
func (d *Daemon) Requests() []Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Request, len(d.requests))
	for i, r := range d.requests {
		r.Query = cloneValues(r.Query)
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// RequestsTo returns the received requests whose Path equals path.
func (d *Daemon) RequestsTo(path string) []Request {
	var out []Request
	for _, r := range d.Requests() {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// ResetRequests forgets the recorded requests.
func (d *Daemon) ResetRequests() {
	d.mu.Lock()
	d.requests = nil
	d.mu.Unlock()
}

// OpenLogStreams returns the number of /logs responses currently open.
// A normally served request counts from the moment its history snapshot is
// taken (so a Write after WaitLogStreams returns is always a "new" message
// for that stream) until its handler returns; a faulted request counts while
// it Hangs or after it wrote raw bytes.
func (d *Daemon) OpenLogStreams() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logStreams
}

// OpenEventStreams returns the number of /events responses currently open.
func (d *Daemon) OpenEventStreams() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.evStreams
}

// WaitLogStreams blocks until exactly n /logs responses are open or ctx ends.
func (d *Daemon) WaitLogStreams(ctx context.Context, n int) error {
	return d.waitStreams(ctx, func() bool { return d.logStreams == n })
}

// WaitEventStreams blocks until exactly n /events responses are open or ctx
// ends. Once it returns, events emitted afterwards reach those streams.
func (d *Daemon) WaitEventStreams(ctx context.Context, n int) error {
	return d.waitStreams(ctx, func() bool { return d.evStreams == n })
}

func (d *Daemon) waitStreams(ctx context.Context, ok func() bool) error {
	for {
		d.mu.Lock()
		done := ok()
		ch := d.streamsCh
		d.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// addStreamLocked adjusts an open-stream counter and wakes waiters.
func (d *Daemon) addStreamLocked(counter *int, delta int) {
	*counter += delta
	close(d.streamsCh)
	d.streamsCh = make(chan struct{})
}

func (d *Daemon) addStream(counter *int, delta int) {
	d.mu.Lock()
	d.addStreamLocked(counter, delta)
	d.mu.Unlock()
}

// ServeHTTP implements http.Handler.
func (d *Daemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, version := splitVersion(r.URL.Path)
	req := Request{
		Method:     r.Method,
		Path:       path,
		APIVersion: version,
		Query:      r.URL.Query(),
		Header:     r.Header.Clone(),
	}

	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "daemon is shutting down")
		return
	}
	d.handlers.Add(1)
	d.requests = append(d.requests, req)
	hook := d.fault
	d.mu.Unlock()
	defer d.handlers.Done()

	h := w.Header()
	h.Set("Api-Version", d.cfg.apiVersion)
	h.Set("Docker-Experimental", "false")
	h.Set("Ostype", "linux")
	h.Set("Server", "Docker/"+d.cfg.engineVersion+" (linux)")

	if hook != nil {
		fw := d.newFaultWriter(w, r, req, faultOther, func(w http.ResponseWriter) { d.route(w, r, req) })
		defer fw.finish()
		if hook(req, fw) {
			return
		}
	}
	d.route(w, r, req)
}

func (d *Daemon) route(w http.ResponseWriter, r *http.Request, req Request) {
	if req.APIVersion != "" {
		if versionLess(d.cfg.apiVersion, req.APIVersion) {
			writeError(w, http.StatusBadRequest, "client version "+req.APIVersion+" is too new. Maximum supported API version is "+d.cfg.apiVersion)
			return
		}
		if versionLess(req.APIVersion, MinAPIVersion) {
			writeError(w, http.StatusBadRequest, "client version "+req.APIVersion+" is too old. Minimum supported API version is "+MinAPIVersion+", please upgrade your client to a newer version")
			return
		}
	}
	get := r.Method == http.MethodGet
	switch p := req.Path; {
	case p == "/_ping" && (get || r.Method == http.MethodHead):
		d.handlePing(w, r)
	case p == "/version" && get:
		d.handleVersion(w)
	case p == "/info" && get:
		d.handleInfo(w)
	case p == "/containers/json" && get:
		d.handleList(w, req)
	case p == "/events" && get:
		d.handleEvents(w, r, req)
	case strings.HasPrefix(p, "/containers/") && get:
		ref, action, ok := strings.Cut(strings.TrimPrefix(p, "/containers/"), "/")
		switch {
		case ok && ref != "" && action == "json":
			d.handleInspect(w, ref)
		case ok && ref != "" && action == "logs":
			d.handleLogs(w, r, req, ref)
		default:
			writeError(w, http.StatusNotFound, "page not found")
		}
	default:
		writeError(w, http.StatusNotFound, "page not found")
	}
}

func (d *Daemon) handlePing(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	_, _ = w.Write([]byte("OK"))
}

// effectiveVersion is the API version a request is served with.
func (d *Daemon) effectiveVersion(req Request) string {
	if req.APIVersion != "" {
		return req.APIVersion
	}
	return d.cfg.apiVersion
}

// now returns the daemon clock.
func (d *Daemon) now() time.Time { return d.cfg.clock() }

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(common.ErrorResponse{Message: msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func flush(w http.ResponseWriter) error { return http.NewResponseController(w).Flush() }

// splitVersion strips a leading "/vX.Y" from p.
func splitVersion(p string) (path, version string) {
	if !strings.HasPrefix(p, "/v") {
		return p, ""
	}
	rest := p[2:]
	end := strings.IndexByte(rest, '/')
	if end <= 0 {
		return p, ""
	}
	v := rest[:end]
	if strings.Trim(v, "0123456789.") != "" {
		return p, ""
	}
	return rest[end:], v
}

// versionLess reports whether API version a < b, comparing numerically.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func engineMajor(v string) int {
	maj, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	n, err := strconv.Atoi(maj)
	if err != nil {
		return 99
	}
	return n
}

// boolValue mirrors the daemon's httputils.BoolValue.
func boolValue(q url.Values, k string) bool {
	s := strings.ToLower(strings.TrimSpace(q.Get(k)))
	return !(s == "" || s == "0" || s == "no" || s == "false" || s == "none")
}

// parseTimestamp parses "sec" or "sec.frac" like the daemon's
// ParseTimestamps (the fraction is scaled by its number of digits).
func parseTimestamp(v string) (time.Time, error) {
	s, frac, hasFrac := strings.Cut(v, ".")
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	var nsec int64
	if hasFrac {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		n, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		for i := len(frac); i < 9; i++ {
			n *= 10
		}
		nsec = n
	}
	return time.Unix(sec, nsec), nil
}

// FormatTimestamp formats t the way the client sends since/until
// ("sec.nanos"), for tests that build query values by hand.
func FormatTimestamp(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10) + "." + leftPad9(int64(t.Nanosecond()))
}

func leftPad9(n int64) string {
	s := strconv.FormatInt(n, 10)
	return strings.Repeat("0", 9-len(s)) + s
}

// parseFilters decodes the "filters" query parameter; both the current
// {"k":{"v":true}} and the legacy {"k":["v"]} forms are accepted.
func parseFilters(raw string) (map[string][]string, error) {
	out := map[string][]string{}
	if raw == "" {
		return out, nil
	}
	var m map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &m); err == nil {
		for k, vs := range m {
			for v, on := range vs {
				if on {
					out[k] = append(out[k], v)
				}
			}
		}
		return out, nil
	}
	var l map[string][]string
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		return nil, err
	}
	return l, nil
}

// matchAny reports whether the filter term is absent or any value matches.
func matchAny(f map[string][]string, key string, match func(v string) bool) bool {
	vs, ok := f[key]
	if !ok || len(vs) == 0 {
		return true
	}
	for _, v := range vs {
		if match(v) {
			return true
		}
	}
	return false
}

func matchLabel(labels map[string]string) func(string) bool {
	return func(v string) bool {
		k, want, hasVal := strings.Cut(v, "=")
		got, ok := labels[k]
		return ok && (!hasVal || got == want)
	}
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func (d *Daemon) handleVersion(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "Docker Engine - Community"},
		Version:       d.cfg.engineVersion,
		APIVersion:    d.cfg.apiVersion,
		MinAPIVersion: MinAPIVersion,
		Os:            "linux",
		Arch:          runtime.GOARCH,
		GoVersion:     runtime.Version(),
		KernelVersion: "6.8.0-fakedocker",
		Components: []system.ComponentVersion{{
			Name:    "Engine",
			Version: d.cfg.engineVersion,
			Details: map[string]string{
				"ApiVersion":    d.cfg.apiVersion,
				"MinAPIVersion": MinAPIVersion,
				"Os":            "linux",
				"Arch":          runtime.GOARCH,
			},
		}},
	})
}
