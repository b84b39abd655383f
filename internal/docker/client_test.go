package docker_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

// The client satisfies the subset the receiver uses.
var _ docker.API = (*client.Client)(nil)

func newClient(t *testing.T, cfg docker.Config) *client.Client {
	t.Helper()
	c, err := docker.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestNewClientBadEndpoint(t *testing.T) {
	for _, ep := range []string{
		"not a url",
		"/var/run/docker.sock",
		"tcp://",
		"unix://",
		"unix:///" + strings.Repeat("d", 200) + "/docker.sock", // longer than sun_path
	} {
		t.Run(ep, func(t *testing.T) {
			c, err := docker.NewClient(docker.Config{Endpoint: ep})
			if err == nil {
				_ = c.Close()
				t.Fatalf("NewClient(%q): no error", ep)
			}
			if c != nil {
				t.Errorf("NewClient(%q) returned a client with the error", ep)
			}
			if !strings.Contains(err.Error(), "create Docker client") {
				t.Errorf("error %q does not say what failed", err)
			}
		})
	}
}

func TestNewClientBadEnvironment(t *testing.T) {
	t.Setenv("DOCKER_HOST", "definitely not a host")
	t.Setenv("DOCKER_CERT_PATH", "")
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_API_VERSION", "")
	c, err := docker.NewClient(docker.Config{})
	if err == nil {
		_ = c.Close()
		t.Fatal("NewClient with a bad DOCKER_HOST: no error")
	}
}

func TestNewClientDoesNotContactDaemon(t *testing.T) {
	d := fakedocker.New(t)
	for _, cfg := range []docker.Config{
		{Endpoint: d.Endpoint()},
		{Endpoint: d.Endpoint(), APIVersion: "1.44", UserAgent: "ua"},
		{Endpoint: "tcp://127.0.0.1:1", TLS: &tls.Config{MinVersion: tls.VersionTLS12}},
		{Endpoint: "tcp://127.0.0.1:1"},
	} {
		newClient(t, cfg)
	}
	t.Setenv("DOCKER_HOST", d.Endpoint())
	t.Setenv("DOCKER_CERT_PATH", "")
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_API_VERSION", "")
	newClient(t, docker.Config{})
	if rs := d.Requests(); len(rs) != 0 {
		t.Fatalf("NewClient contacted the daemon: %+v", rs)
	}
}

func TestNewClientTalksToDaemon(t *testing.T) {
	d := fakedocker.New(t, fakedocker.WithEngineVersion("27.3.1"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c := newClient(t, docker.Config{Endpoint: d.Endpoint(), UserAgent: "dlr-test/1"})
	v, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != "27.3.1" {
		t.Errorf("engine version %q, want 27.3.1", v.Version)
	}
	rs := d.RequestsTo("/version")
	if len(rs) != 1 {
		t.Fatalf("/version requests: %d, want 1", len(rs))
	}
	if ua := rs[0].Header.Get("User-Agent"); ua != "dlr-test/1" {
		t.Errorf("User-Agent %q, want dlr-test/1", ua)
	}
	if rs[0].APIVersion == "" {
		t.Errorf("request without an API version prefix")
	}
}

func TestNewClientPinnedAPIVersion(t *testing.T) {
	d := fakedocker.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c := newClient(t, docker.Config{Endpoint: d.Endpoint(), APIVersion: "1.44"})
	if _, err := c.ServerVersion(ctx, client.ServerVersionOptions{}); err != nil {
		t.Fatal(err)
	}
	rs := d.RequestsTo("/version")
	if len(rs) != 1 || rs[0].APIVersion != "1.44" {
		t.Fatalf("/version requests %+v, want one with API version 1.44", rs)
	}
	if n := len(d.RequestsTo("/_ping")); n != 0 {
		t.Errorf("a pinned API version still negotiated (%d pings)", n)
	}
}

func TestNewClientFromEnvironment(t *testing.T) {
	d := fakedocker.New(t, fakedocker.WithEngineVersion("25.0.0"))
	t.Setenv("DOCKER_HOST", d.Endpoint())
	t.Setenv("DOCKER_CERT_PATH", "")
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_API_VERSION", "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c := newClient(t, docker.Config{})
	v, err := c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != "25.0.0" {
		t.Errorf("engine version %q, want 25.0.0", v.Version)
	}
}

func TestIsPlainTCP(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		tls      bool
		want     bool
	}{
		{"tcp://10.0.0.1:2375", false, true},
		{"tcp://10.0.0.1:2376", true, false},
		{"http://docker.internal:2375", false, true},
		{"http://docker.internal:2375", true, false},
		{"https://docker.internal:2376", false, true}, // no tls block: the client speaks plain HTTP
		{"unix:///var/run/docker.sock", false, false},
		{"unix:///var/run/docker.sock", true, false},
		{"npipe:////./pipe/docker_engine", false, false},
		{"ssh://user@host", false, true}, // the library dials it as TCP
		{"", false, false},
	} {
		if got := docker.IsPlainTCP(tc.endpoint, tc.tls); got != tc.want {
			t.Errorf("IsPlainTCP(%q, %v) = %v, want %v", tc.endpoint, tc.tls, got, tc.want)
		}
	}
}

// TestIsPlainTCPCoversEverySchemeSentInClear checks IsPlainTCP against what
// the client really does: every endpoint that is not unix:// or npipe:// is
// dialled over TCP, and without a TLS config the requests go out as plain
// HTTP, whatever the scheme says.
func TestIsPlainTCPCoversEverySchemeSentInClear(t *testing.T) {

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	plain := 0
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.TLS == nil {
			plain++
		}
		mu.Unlock()
		http.Error(w, `{"message":"no"}`, http.StatusInternalServerError)
	})}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-served })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ep := range []string{"https://" + ln.Addr().String(), "TCP://" + ln.Addr().String(), "HTTP://" + ln.Addr().String()} {
		mu.Lock()
		before := plain
		mu.Unlock()
		c := newClient(t, docker.Config{Endpoint: ep})
		_, _ = c.ServerVersion(ctx, client.ServerVersionOptions{})
		mu.Lock()
		sentInClear := plain > before
		mu.Unlock()
		if sentInClear && !docker.IsPlainTCP(ep, false) {
			t.Errorf("%s: requests went out as plain HTTP but IsPlainTCP is false", ep)
		}
	}
}

func TestInfoNamesTheHost(t *testing.T) {
	d := fakedocker.New(t, fakedocker.WithInfo(fakedocker.Info{Name: "docker-host-7", ID: "6f1c2d3e-aaaa-4bbb-8ccc-000000000007"}))
	d.AddContainer(fakedocker.Container{Name: "web", Cmd: []string{"/app", "-v"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var api docker.API = newClient(t, docker.Config{Endpoint: d.Endpoint()})
	res, err := api.Info(ctx, client.InfoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Info.Name != "docker-host-7" || res.Info.ID != "6f1c2d3e-aaaa-4bbb-8ccc-000000000007" {
		t.Errorf("Info: name %q, ID %q", res.Info.Name, res.Info.ID)
	}
	if res.Info.Containers != 1 || res.Info.ServerVersion != d.EngineVersion() {
		t.Errorf("Info: %d containers, server version %q", res.Info.Containers, res.Info.ServerVersion)
	}
	in, err := api.ContainerInspect(ctx, "web", client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := docker.ContainerFromInspect(in.Container).Command; len(got) != 2 || got[0] != "/app" || got[1] != "-v" {
		t.Errorf("Command %q, want [/app -v]", got)
	}
}

func TestEngineOf(t *testing.T) {
	// What Podman 4.3.1's GET /version lists (trimmed), and Docker's.
	podman := client.ServerVersionResult{Version: "4.3.1", Components: []system.ComponentVersion{
		{Name: "Podman Engine", Version: "4.3.1"}, {Name: "Conmon", Version: "conmon version 2.1.6"}}}
	if e := docker.EngineOf(podman); !e.Podman || e.Version != "4.3.1" || e.Runtime() != "podman" {
		t.Errorf("Podman: %+v", e)
	}
	dockerd := client.ServerVersionResult{Version: "20.10.24", Components: []system.ComponentVersion{
		{Name: "Engine", Version: "20.10.24"}, {Name: "containerd", Version: "1.6.20"}}}
	if e := docker.EngineOf(dockerd); e.Podman || e.Runtime() != "docker" {
		t.Errorf("Docker: %+v", e)
	}
}

func TestSinceKeepsEveryNanosecond(t *testing.T) {
	for ns, want := range map[int64]string{
		1:                   "0.000000001",
		1e9:                 "1.000000000",
		1700000000123456789: "1700000000.123456789",
		1700000000000000010: "1700000000.000000010",
	} {
		if got := docker.Since(ns); got != want {
			t.Errorf("Since(%d) = %q, want %q", ns, got, want)
		}
	}
}
