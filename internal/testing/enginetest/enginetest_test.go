package enginetest

// The proxies are tested against internal/testing/fakedocker, spoken to by
// the real moby client and by hand-written requests. Test names start with
// Privilege (allowlist) or TLS so that `-run 'Privilege|TLS'` selects them.

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

const wait = 30 * time.Second

func TestPrivilegeClassify(t *testing.T) {
	id := strings.Repeat("ab12", 16)
	tests := []struct {
		method, path string
		template     string
		allowed      bool
	}{
		{"GET", "/_ping", "/_ping", true},
		{"HEAD", "/_ping", "/_ping", true},
		{"HEAD", "/v1.41/_ping", "/v{version}/_ping", true},
		{"GET", "/version", "/version", true},
		{"GET", "/v1.52/version", "/v{version}/version", true},
		{"GET", "/v1.41/containers/json", "/v{version}/containers/json", true},
		{"GET", "/v1.41/containers/" + id + "/json", "/v{version}/containers/{id}/json", true},
		{"GET", "/containers/web-1/logs", "/containers/{id}/logs", true},
		{"GET", "/v1.41/containers/" + id + "/logs", "/v{version}/containers/{id}/logs", true},
		{"GET", "/v1.41/events", "/v{version}/events", true},
		{"GET", "/v1.41/info", "/v{version}/info", true},
		// Writes, other reads and tricks.
		{"POST", "/v1.41/containers/" + id + "/start", "/v1.41/containers/" + id + "/start", false},
		{"POST", "/v1.41/containers/json", "/v{version}/containers/json", false},
		{"DELETE", "/v1.41/containers/" + id + "/json", "/v{version}/containers/{id}/json", false},
		{"PUT", "/_ping", "/_ping", false},
		{"GET", "/v1.41/containers/" + id + "/archive", "/v1.41/containers/" + id + "/archive", false},
		{"GET", "/v1.41/containers/" + id + "/export", "/v1.41/containers/" + id + "/export", false},
		{"GET", "/v1.41/containers/" + id + "/top", "/v1.41/containers/" + id + "/top", false},
		{"GET", "/v1.41/containers/" + id + "/logs/x", "/v1.41/containers/" + id + "/logs/x", false},
		{"GET", "/v1.41/images/json", "/v1.41/images/json", false},
		{"POST", "/v1.41/info", "/v{version}/info", false},
		{"GET", "/v1.41/secrets", "/v1.41/secrets", false},
		{"GET", "/containers/../logs", "/containers/../logs", false},
		{"GET", "/containers/./json", "/containers/./json", false},
		{"GET", "/containers//logs", "/containers//logs", false},
		{"GET", "/v1.41", "/v1.41", false},
		{"GET", "/v1.41/", "/v1.41/", false},
		{"GET", "/vx.y/version", "/vx.y/version", false},
		{"GET", "/v1.41/v1.41/version", "/v1.41/v1.41/version", false},
		{"GET", "/version/", "/version/", false},
	}
	for _, tc := range tests {
		tmpl, ok := Classify(tc.method, tc.path)
		if tmpl != tc.template || ok != tc.allowed {
			t.Errorf("Classify(%s %s) = %q, %v; want %q, %v", tc.method, tc.path, tmpl, ok, tc.template, tc.allowed)
		}
	}
}

func newClient(t *testing.T, opts ...client.Opt) *client.Client {
	t.Helper()
	c, err := client.New(append([]client.Opt{client.WithTraceProvider(noop.NewTracerProvider())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readFrame reads one log frame's payload from a multiplexed logs body.
func readFrame(t *testing.T, r io.Reader) string {
	t.Helper()
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatalf("read frame header: %v", err)
	}
	n := int(h[4])<<24 | int(h[5])<<16 | int(h[6])<<8 | int(h[7])
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return string(b)
}

// rawRequest sends one hand-made HTTP/1.1 request to a unix socket and
// returns the status code.
func rawRequest(t *testing.T, sock, method, target string, body string) int {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait))
	req := method + " " + target + " HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n"
	if body != "" {
		req += "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	req += "\r\n" + body
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestPrivilegeAllowlistProxyForwardsReadsStreamsAndDeniesTheRest drives
// the real client through the proxy: allowed calls work, log and event
// streams deliver each message as it is written, and everything else is
// answered 403 without reaching the daemon.
func TestPrivilegeAllowlistProxyForwardsReadsStreamsAndDeniesTheRest(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{Name: "web"})
	id := d.ContainerID("web")
	d.Start(id)
	d.WriteLines(id, fakedocker.Stdout, "history")
	p := NewAllowlistProxy(t, d.Endpoint())
	cli := newClient(t, client.WithHost(p.Endpoint()))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ServerVersion(ctx, client.ServerVersionOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v %v", list.Items, err)
	}
	if _, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err != nil {
		t.Fatal(err)
	}

	// A follow stream: a line written after it opened arrives through the
	// proxy while the response is still open.
	sctx, scancel := context.WithCancel(ctx)
	body, err := cli.ContainerLogs(sctx, id, client.ContainerLogsOptions{ShowStdout: true, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := readFrame(t, body); got != "history\n" {
		t.Fatalf("first frame %q", got)
	}
	if err := d.WaitLogStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	d.WriteLines(id, fakedocker.Stdout, "live")
	if got := readFrame(t, body); got != "live\n" {
		t.Fatalf("live frame %q", got)
	}
	// Events stream the same way.
	ev := cli.Events(sctx, client.EventsListOptions{})
	if err := d.WaitEventStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	d.Rename(id, "web2")
	select {
	case m := <-ev.Messages:
		if string(m.Action) != "rename" {
			t.Fatalf("event %v", m)
		}
	case err := <-ev.Err:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("no event through the proxy")
	}
	scancel()
	_ = body.Close()

	// Writes are refused by the proxy.
	if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err == nil || !strings.Contains(err.Error(), "allowlist") {
		t.Errorf("start through the proxy: %v, want a 403 naming the allowlist", err)
	}
	if _, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err == nil {
		t.Error("remove through the proxy succeeded")
	}
	if _, err := cli.ImageList(ctx, client.ImageListOptions{}); err == nil {
		t.Error("image list through the proxy succeeded")
	}
	sock := strings.TrimPrefix(p.Endpoint(), "unix://")
	for _, r := range []struct{ method, target, body string }{
		{"POST", "/v1.41/containers/create", `{"Image":"busybox"}`},
		{"DELETE", "/containers/" + id, ""},
		{"GET", "/containers/" + id + "/archive?path=/", ""},
		{"GET", "/containers/../containers/" + id + "/json", ""},
		{"GET", "/containers/web%2F..%2Fx/logs", ""},
		{"GET", "/_ping", `{"smuggled":true}`},
		{"POST", "/v1.41/exec/abc/start", `{}`},
	} {
		if code := rawRequest(t, sock, r.method, r.target, r.body); code != http.StatusForbidden {
			t.Errorf("%s %s: status %d, want 403", r.method, r.target, code)
		}
	}
	for _, r := range d.Requests() {
		if _, ok := Classify(r.Method, r.Path); !ok {
			t.Errorf("the daemon received %s %s", r.Method, r.Path)
		}
	}
	denied := p.Denied()
	if len(denied) < 10 {
		t.Errorf("%d requests denied, want at least 10: %v", len(denied), denied)
	}
	t.Logf("templates: %v", p.Templates())
}

// TestPrivilegeAllowlistProxyClosesWithOpenStreams closes the proxy while
// a log and an event stream are open: the client sees its streams end and
// no goroutine stays behind (TestMain checks).
func TestPrivilegeAllowlistProxyClosesWithOpenStreams(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{Name: "web"})
	id := d.ContainerID("web")
	d.Start(id)
	p := NewAllowlistProxy(t, d.Endpoint())
	cli := newClient(t, client.WithHost(p.Endpoint()))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	body, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	ev := cli.Events(ctx, client.EventsListOptions{})
	if err := d.WaitLogStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := d.WaitEventStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := io.Copy(io.Discard, body); err == nil {
		t.Error("the log stream ended cleanly; want an error (cut by the proxy)")
	}
	select {
	case <-ev.Err:
	case <-ctx.Done():
		t.Fatal("the event stream did not end")
	}
	// The daemon saw both streams end.
	if err := d.WaitLogStreams(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.WaitEventStreams(ctx, 0); err != nil {
		t.Fatal(err)
	}
	p.Close() // idempotent
}

func tlsClientConfig(t *testing.T, p *TLSProxy) *tls.Config {
	t.Helper()
	ca, err := os.ReadFile(p.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("bad ca.pem")
	}
	cert, err := tls.LoadX509KeyPair(p.CertFile(), p.KeyFile())
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// TestTLSProxyRequiresAndVerifiesClientCertificates: the certificates in
// CertDir work with the moby client (Ping, a live log stream); no client
// certificate, one of another CA, or plain HTTP fail.
func TestTLSProxyRequiresAndVerifiesClientCertificates(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{Name: "web"})
	id := d.ContainerID("web")
	d.Start(id)
	p := NewTLSProxy(t, d.Endpoint())
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, f := range []string{CAFileName, CertFileName, KeyFileName} {
		if _, err := os.Stat(p.CertDir() + "/" + f); err != nil {
			t.Fatal(err)
		}
	}

	cli := newClient(t, client.WithHost(p.Endpoint()), client.WithTLSClientConfig(p.CAFile(), p.CertFile(), p.KeyFile()))
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatalf("ping over mutual TLS: %v", err)
	}
	body, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WaitLogStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	d.WriteLines(id, fakedocker.Stdout, "over tls")
	if got := readFrame(t, body); got != "over tls\n" {
		t.Fatalf("frame %q", got)
	}
	_ = body.Close()

	dial := func(cfg *tls.Config) error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: wait}, "tcp", p.Addr(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		// TLS 1.3 reports a rejected client certificate on the first read.
		_ = c.SetDeadline(time.Now().Add(wait))
		if _, err := io.WriteString(c, "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		return nil
	}
	good := tlsClientConfig(t, p)
	if err := dial(good); err != nil {
		t.Fatalf("hand-made client with the generated certificates: %v", err)
	}
	noCert := good.Clone()
	noCert.Certificates = nil
	if err := dial(noCert); err == nil {
		t.Error("a client without a certificate was served")
	}
	other, err := newAuthority("another CA")
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.issue("intruder", false)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := foreign.tlsCertificate()
	if err != nil {
		t.Fatal(err)
	}
	wrongCA := good.Clone()
	wrongCA.Certificates = nil
	// Present it although the server asks for its own CA's certificates.
	wrongCA.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &fc, nil }
	if err := dial(wrongCA); err == nil {
		t.Error("a client certificate of another CA was accepted")
	}
	// The server's certificate is for 127.0.0.1 and localhost only.
	wrongName := good.Clone()
	wrongName.ServerName = "docker.example"
	if err := dial(wrongName); err == nil {
		t.Error("the server certificate verified for docker.example")
	}

	// Plain HTTP gets what dockerd's Go server answers.
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(wait))
	_, _ = io.WriteString(c, "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
	b, _ := io.ReadAll(c)
	_ = c.Close()
	if !strings.Contains(string(b), "400 Bad Request") {
		t.Errorf("plain HTTP answered %q", b)
	}
	plain := newClient(t, client.WithHost(p.Endpoint()))
	if _, err := plain.Ping(ctx, client.PingOptions{}); err == nil {
		t.Error("a plain-HTTP client pinged through the TLS proxy")
	}
	if err := p.WaitHandshakeErrors(ctx, 5); err != nil {
		t.Fatalf("%v: handshake errors %v", err, p.HandshakeErrors())
	}
	unknownCA := false
	for _, err := range p.HandshakeErrors() {
		unknownCA = unknownCA || strings.Contains(err.Error(), "unknown authority")
	}
	if !unknownCA {
		t.Error("no handshake failed verifying a client certificate of another CA")
	}
	t.Logf("%v; handshake errors: %v", p, p.HandshakeErrors())
}

// TestTLSProxyClosesWithOpenStreams closes the proxy under an open follow
// stream; TestMain checks that no goroutine is left.
func TestTLSProxyClosesWithOpenStreams(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{Name: "web"})
	id := d.ContainerID("web")
	d.Start(id)
	p := NewTLSProxy(t, d.Endpoint())
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cli := newClient(t, client.WithHost(p.Endpoint()), client.WithTLSClientConfig(p.CAFile(), p.CertFile(), p.KeyFile()))
	body, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	if err := d.WaitLogStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := io.Copy(io.Discard, body); err == nil {
		t.Error("the log stream ended cleanly; want an error (cut by the proxy)")
	}
	if err := d.WaitLogStreams(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Conns() {
		if c.Closed.IsZero() {
			t.Errorf("connection opened at %v still open after Close", c.Opened)
		}
	}
	p.Close()
}
