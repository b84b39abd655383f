package enginetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TLSProxy terminates mutual TLS on 127.0.0.1 and passes the bytes on to
// the engine's unix socket, like a daemon started with --tlsverify. Create
// it with NewTLSProxy.
type TLSProxy struct {
	ln       net.Listener
	upstream string
	dir      string
	cfg      *tls.Config
	wg       sync.WaitGroup
	once     sync.Once

	mu      sync.Mutex
	closed  bool
	active  map[net.Conn]struct{}
	conns   []*connStat
	hsErrs  []error
	changed chan struct{}
}

// ConnInfo describes one client connection the proxy accepted.
type ConnInfo struct {
	Opened time.Time
	Closed time.Time // zero while open
	// Handshake is nil when the TLS handshake succeeded.
	Handshake error
	// Up is bytes from the client to the engine, Down from the engine to
	// the client (after the handshake).
	Up, Down int64
}

// Duration is how long the connection was (or has been) open.
func (c ConnInfo) Duration() time.Duration {
	if c.Closed.IsZero() {
		return time.Since(c.Opened)
	}
	return c.Closed.Sub(c.Opened)
}

// connStat is the live state behind a ConnInfo; the times and the error
// are guarded by TLSProxy.mu.
type connStat struct {
	opened, closed time.Time
	handshake      error
	up, down       atomic.Int64
}

// File names in CertDir, as DOCKER_CERT_PATH expects them.
const (
	CAFileName   = "ca.pem"
	CertFileName = "cert.pem"
	KeyFileName  = "key.pem"
)

// NewTLSProxy starts a proxy on 127.0.0.1:0 in front of upstream (the
// engine's unix socket: "unix:///var/run/docker.sock" or a path). It makes
// a CA, a server certificate for 127.0.0.1/localhost and a client
// certificate, and writes the CA and the client's certificate and key to
// CertDir. Connections without a client certificate signed by that CA
// fail the handshake. The proxy is closed with t.Cleanup.
func NewTLSProxy(t testing.TB, upstream string) *TLSProxy {
	t.Helper()
	sock, err := socketPath(upstream)
	if err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	ca, err := newAuthority("enginetest CA")
	if err != nil {
		t.Fatalf("enginetest: CA: %v", err)
	}
	srvLeaf, err := ca.issue("enginetest server", true)
	if err != nil {
		t.Fatalf("enginetest: server certificate: %v", err)
	}
	cliLeaf, err := ca.issue("enginetest client", false)
	if err != nil {
		t.Fatalf("enginetest: client certificate: %v", err)
	}
	srvCert, err := srvLeaf.tlsCertificate()
	if err != nil {
		t.Fatalf("enginetest: %v", err)
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{CAFileName: ca.pem, CertFileName: cliLeaf.certPEM, KeyFileName: cliLeaf.keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatalf("enginetest: %v", err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("enginetest: listen: %v", err)
	}
	p := &TLSProxy{
		ln: ln, upstream: sock, dir: dir,
		cfg: &tls.Config{
			Certificates: []tls.Certificate{srvCert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    pool,
			MinVersion:   tls.VersionTLS12,
		},
		active:  map[net.Conn]struct{}{},
		changed: make(chan struct{}),
	}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Endpoint is the proxy's address for a Docker client: tcp://127.0.0.1:port.
func (p *TLSProxy) Endpoint() string { return "tcp://" + p.ln.Addr().String() }

// Addr is host:port.
func (p *TLSProxy) Addr() string { return p.ln.Addr().String() }

// CertDir holds ca.pem, cert.pem and key.pem.
func (p *TLSProxy) CertDir() string { return p.dir }

// CAFile is the CA that signed the server and client certificates.
func (p *TLSProxy) CAFile() string { return filepath.Join(p.dir, CAFileName) }

// CertFile is the client certificate.
func (p *TLSProxy) CertFile() string { return filepath.Join(p.dir, CertFileName) }

// KeyFile is the client certificate's private key.
func (p *TLSProxy) KeyFile() string { return filepath.Join(p.dir, KeyFileName) }

// Conns returns the connections accepted so far, in order.
func (p *TLSProxy) Conns() []ConnInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]ConnInfo, len(p.conns))
	for i, c := range p.conns {
		out[i] = ConnInfo{Opened: c.opened, Closed: c.closed, Handshake: c.handshake, Up: c.up.Load(), Down: c.down.Load()}
	}
	return out
}

// HandshakeErrors returns the failed handshakes so far.
func (p *TLSProxy) HandshakeErrors() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.hsErrs...)
}

// WaitHandshakeErrors blocks until at least n handshakes failed or ctx ends.
func (p *TLSProxy) WaitHandshakeErrors(ctx context.Context, n int) error {
	return p.wait(ctx, func() bool { return len(p.hsErrs) >= n })
}

// WaitConns blocks until at least n connections were accepted or ctx ends.
func (p *TLSProxy) WaitConns(ctx context.Context, n int) error {
	return p.wait(ctx, func() bool { return len(p.conns) >= n })
}

func (p *TLSProxy) wait(ctx context.Context, cond func() bool) error {
	for {
		p.mu.Lock()
		ok := cond()
		ch := p.changed
		p.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *TLSProxy) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Close stops accepting, cuts every connection and waits for all of the
// proxy's goroutines. It is idempotent.
func (p *TLSProxy) Close() {
	p.once.Do(func() {
		_ = p.ln.Close()
		p.mu.Lock()
		p.closed = true
		for c := range p.active {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
}

// track registers c for Close; false when the proxy is closing.
func (p *TLSProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.active[c] = struct{}{}
	return true
}

func (p *TLSProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.active, c)
	p.mu.Unlock()
}

func (p *TLSProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !p.track(c) {
			_ = c.Close()
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// plainHTTPResponse is what Go's HTTPS servers (dockerd among them) answer
// a client speaking plain HTTP.
const plainHTTPResponse = "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"

func (p *TLSProxy) serve(raw net.Conn) {
	defer p.wg.Done()
	defer p.untrack(raw)
	defer raw.Close()
	st := &connStat{opened: time.Now()}
	p.mu.Lock()
	p.conns = append(p.conns, st)
	p.notifyLocked()
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		st.closed = time.Now()
		p.notifyLocked()
		p.mu.Unlock()
	}()

	tc := tls.Server(raw, p.cfg)
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		var rhe tls.RecordHeaderError
		if errors.As(err, &rhe) && rhe.Conn != nil && looksLikeHTTP(rhe.RecordHeader[:]) {
			_, _ = io.WriteString(rhe.Conn, plainHTTPResponse)
		}
		p.mu.Lock()
		st.handshake = err
		p.hsErrs = append(p.hsErrs, err)
		p.mu.Unlock()
		return
	}
	_ = raw.SetDeadline(time.Time{})

	var d net.Dialer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	up, err := d.DialContext(ctx, "unix", p.upstream)
	cancel()
	if err != nil {
		return
	}
	if !p.track(up) {
		_ = up.Close()
		return
	}
	defer p.untrack(up)
	defer up.Close()

	// Either direction ending ends the connection: an HTTP client or
	// daemon that closes its side is done with it.
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn, n *atomic.Int64) {
		_, _ = io.Copy(countWriter{dst, n}, src)
		done <- struct{}{}
	}
	go pipe(up, tc, &st.up)
	go pipe(tc, up, &st.down)
	<-done
	_ = tc.Close()
	_ = up.Close()
	<-done
}

type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// looksLikeHTTP mirrors net/http's check of a TLS record header that is
// really the start of a plain HTTP request.
func looksLikeHTTP(hdr []byte) bool {
	switch string(hdr) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// String summarizes the proxy's connections.
func (p *TLSProxy) String() string {
	conns := p.Conns()
	var ok, failed int
	var longest time.Duration
	for _, c := range conns {
		if c.Handshake != nil {
			failed++
			continue
		}
		ok++
		longest = max(longest, c.Duration())
	}
	return fmt.Sprintf("%d connections (%d TLS, %d failed handshakes), longest %v", len(conns), ok, failed, longest.Round(time.Millisecond))
}
