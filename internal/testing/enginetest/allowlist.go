// Package enginetest puts proxies in front of a Docker Engine socket for
// integration tests:
//
//   - AllowlistProxy, an HTTP reverse proxy on a unix socket that forwards
//     only the read-only calls a log reader needs (GET/HEAD of /_ping,
//     /version, /info, /containers/json, /containers/{id}/json,
//     /containers/{id}/logs and /events), answers 403 to everything else
//     and records every request, so a test can prove a client never asked
//     for more;
//   - TLSProxy, a TLS-terminating TCP proxy on 127.0.0.1 that requires and
//     verifies client certificates (generated at test time, written as
//     ca.pem, cert.pem and key.pem like DOCKER_CERT_PATH), so a client can
//     be tested against tcp:// with mutual TLS.
//
// Both stream (log and event responses are long-lived), are closed by
// t.Cleanup and wait for every goroutine they started.
package enginetest // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/enginetest"

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request an AllowlistProxy received.
type Request struct {
	Method string
	// Path as received, e.g. "/v1.41/containers/4f2a.../logs".
	Path string
	// Query is the raw query string.
	Query string
	// Template is Path with the API version and container reference
	// replaced: "/v{version}/containers/{id}/logs". Paths outside the
	// allowlist are kept as they are.
	Template string
	// Allowed is false when the proxy answered 403.
	Allowed bool
}

// Key is "METHOD template", e.g. "GET /v{version}/containers/{id}/logs".
func (r Request) Key() string { return r.Method + " " + r.Template }

var (
	versionPrefix = regexp.MustCompile(`^/v[0-9]+\.[0-9]+/`)
	// A container ID or name as the daemon accepts it: no '/', no "." or
	// ".." segment, no encoded bytes.
	containerRef = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// Classify returns a request's template and whether the allowlist admits
// it: GET or HEAD of /_ping, /version, /info, /containers/json,
// /containers/{id}/json, /containers/{id}/logs or /events, each with or
// without a /vX.Y prefix.
func Classify(method, path string) (template string, allowed bool) {
	rest, prefix := path, ""
	if loc := versionPrefix.FindStringIndex(path); loc != nil {
		rest, prefix = path[loc[1]-1:], "/v{version}"
	}
	readOnly := method == http.MethodGet || method == http.MethodHead
	switch rest {
	case "/_ping", "/version", "/info", "/containers/json", "/events":
		return prefix + rest, readOnly
	}
	if ref, action, ok := strings.Cut(strings.TrimPrefix(rest, "/containers/"), "/"); ok &&
		strings.HasPrefix(rest, "/containers/") && containerRef.MatchString(ref) &&
		(action == "json" || action == "logs") {
		return prefix + "/containers/{id}/" + action, readOnly
	}
	return path, false
}

// AllowlistProxy forwards allowlisted requests to the engine. Create it
// with NewAllowlistProxy.
type AllowlistProxy struct {
	dir, sock string
	upstream  string
	srv       *http.Server
	rp        *httputil.ReverseProxy
	tr        *http.Transport
	ctx       context.Context
	cancel    context.CancelFunc
	serveDone chan struct{}
	handlers  sync.WaitGroup
	closeOnce sync.Once

	mu      sync.Mutex
	closed  bool
	reqs    []Request
	errs    int // upstream failures and cut streams
	changed chan struct{}
}

// NewAllowlistProxy starts a proxy in front of upstream, the engine's unix
// socket ("unix:///var/run/docker.sock" or a path). It listens on a fresh
// unix socket (Endpoint) and is closed with t.Cleanup.
func NewAllowlistProxy(t testing.TB, upstream string) *AllowlistProxy {
	t.Helper()
	sock, err := socketPath(upstream)
	if err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	// t.TempDir paths can exceed sun_path (~108 bytes): use a short one.
	dir, err := os.MkdirTemp("", "enginetest-")
	if err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	p := &AllowlistProxy{
		dir: dir, sock: filepath.Join(dir, "docker.sock"), upstream: sock,
		serveDone: make(chan struct{}), changed: make(chan struct{}),
	}
	ln, err := net.Listen("unix", p.sock)
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("enginetest: listen: %v", err)
	}
	p.tr = &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableCompression:    true,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 0, // /logs answers late when the daemon scans a big log
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "docker"
			pr.Out.Host = "docker"
		},
		Transport: p.tr,
		// Flush every write at once: log and event streams are long-lived
		// and a line must not wait in a buffer.
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.mu.Lock()
			p.errs++
			p.mu.Unlock()
			if r.Context().Err() == nil {
				http.Error(w, "enginetest: upstream: "+err.Error(), http.StatusBadGateway)
			}
		},
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return p.ctx },
	}
	go func() {
		defer close(p.serveDone)
		_ = p.srv.Serve(ln)
	}()
	t.Cleanup(p.Close)
	return p
}

// Endpoint is the proxy's address for a Docker client: unix://<socket>.
func (p *AllowlistProxy) Endpoint() string { return "unix://" + p.sock }

// ServeHTTP implements http.Handler.
func (p *AllowlistProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tmpl, ok := Classify(r.Method, r.URL.Path)
	// Encoded bytes in the path, a request body or a protocol upgrade have
	// no place in a read-only call.
	if r.URL.RawPath != "" || r.ContentLength > 0 || len(r.TransferEncoding) > 0 || r.Header.Get("Upgrade") != "" {
		ok = false
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		http.Error(w, "enginetest: proxy closed", http.StatusServiceUnavailable)
		return
	}
	p.handlers.Add(1)
	p.reqs = append(p.reqs, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Template: tmpl, Allowed: ok})
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	defer p.handlers.Done()

	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = fmt.Fprintf(w, "{\"message\":%q}\n", "enginetest: "+r.Method+" "+r.URL.Path+" is not on the allowlist")
		return
	}
	p.rp.ServeHTTP(w, r)
}

// Requests returns every request received so far, in order.
func (p *AllowlistProxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.reqs...)
}

// Denied returns the requests answered with 403.
func (p *AllowlistProxy) Denied() []Request {
	var out []Request
	for _, r := range p.Requests() {
		if !r.Allowed {
			out = append(out, r)
		}
	}
	return out
}

// Templates counts the requests by Key ("METHOD template"), sorted by key.
func (p *AllowlistProxy) Templates() []TemplateCount {
	n := map[string]int{}
	allowed := map[string]bool{}
	for _, r := range p.Requests() {
		n[r.Key()]++
		allowed[r.Key()] = r.Allowed
	}
	out := make([]TemplateCount, 0, len(n))
	for k, c := range n {
		out = append(out, TemplateCount{Key: k, Count: c, Allowed: allowed[k]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// TemplateCount is how often one "METHOD template" was requested.
type TemplateCount struct {
	Key     string
	Count   int
	Allowed bool
}

func (c TemplateCount) String() string {
	s := fmt.Sprintf("%s ×%d", c.Key, c.Count)
	if !c.Allowed {
		s += " (DENIED)"
	}
	return s
}

// UpstreamErrors counts requests the proxy could not complete upstream
// (including streams cut by the client going away).
func (p *AllowlistProxy) UpstreamErrors() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs
}

// WaitRequests blocks until at least n requests satisfy match, or ctx ends.
func (p *AllowlistProxy) WaitRequests(ctx context.Context, n int, match func(Request) bool) error {
	for {
		p.mu.Lock()
		got := 0
		for _, r := range p.reqs {
			if match == nil || match(r) {
				got++
			}
		}
		ch := p.changed
		p.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("enginetest: %d of %d requests: %w", got, n, ctx.Err())
		}
	}
}

// Close stops the proxy: it cuts every open stream, waits for every
// handler and closes its upstream connections. It is idempotent.
func (p *AllowlistProxy) Close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		_ = p.srv.Close() // listener and client connections
		p.cancel()        // upstream requests of running handlers
		<-p.serveDone
		p.handlers.Wait()
		p.tr.CloseIdleConnections()
		_ = os.RemoveAll(p.dir)
	})
}

// socketPath turns "unix:///path" or "/path" into "/path".
func socketPath(upstream string) (string, error) {
	if rest, ok := strings.CutPrefix(upstream, "unix://"); ok {
		upstream = rest
	}
	if !strings.HasPrefix(upstream, "/") {
		return "", fmt.Errorf("upstream %q: want unix:///path or /path", upstream)
	}
	return upstream, nil
}
