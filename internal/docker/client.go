// Package docker builds the Docker Engine API client the receiver uses and
// names the few calls it makes.
package docker // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/moby/moby/client"
	"go.opentelemetry.io/otel/trace/noop"
)

// API is the subset of the Engine API the receiver calls: it only reads.
// *client.Client implements it.
type API interface {
	ServerVersion(ctx context.Context, opts client.ServerVersionOptions) (client.ServerVersionResult, error)
	ContainerList(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerInspect(ctx context.Context, id string, opts client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerLogs(ctx context.Context, id string, opts client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	Events(ctx context.Context, opts client.EventsListOptions) client.EventsResult
	// Info (GET /info) names the daemon's host: read once per connection.
	Info(ctx context.Context, opts client.InfoOptions) (client.SystemInfoResult, error)
}

// Config says how to reach the daemon.
type Config struct {
	// Endpoint such as unix:///var/run/docker.sock or tcp://host:2376.
	// Empty takes DOCKER_HOST, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY and
	// DOCKER_API_VERSION from the environment.
	Endpoint string
	// APIVersion pins the API version; empty negotiates on first use.
	APIVersion string
	// TLS, when set, is used for tcp:// endpoints.
	TLS *tls.Config
	// UserAgent identifies the collector to the daemon.
	UserAgent string
}

// NewClient builds a client. It does not contact the daemon. The client has
// no overall request timeout, because that would cut log and event streams;
// callers bound short requests with their contexts.
func NewClient(cfg Config) (*client.Client, error) {
	opts := []client.Opt{
		// The client would otherwise trace every request, and every long
		// stream, with the global tracer provider.
		client.WithTraceProvider(noop.NewTracerProvider()),
		client.WithUserAgent(cfg.UserAgent),
	}
	if cfg.TLS != nil {
		// A transport of our own carries the TLS settings; WithHost below
		// then configures its dialer for the endpoint.
		opts = append(opts, client.WithHTTPClient(&http.Client{Transport: &http.Transport{TLSClientConfig: cfg.TLS}}))
	}
	if cfg.Endpoint == "" {
		opts = append(opts, client.FromEnv)
	} else {
		opts = append(opts, client.WithHost(cfg.Endpoint))
	}
	if cfg.APIVersion != "" {
		opts = append(opts, client.WithAPIVersion(cfg.APIVersion))
	}
	if path, ok := unixPath(cfg.Endpoint); ok {
		// After WithHost, which sets the transport's dialer for the scheme.
		opts = append(opts, client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialUnix(ctx, path)
		}))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("create Docker client for %q: %w", cfg.Endpoint, err)
	}
	return c, nil
}

// unixPath is the socket path of a unix:// endpoint. An endpoint from the
// environment (empty) keeps the client's own dialer.
func unixPath(endpoint string) (string, bool) {
	scheme, path, ok := strings.Cut(endpoint, "://")
	if !ok || !strings.EqualFold(scheme, "unix") || path == "" {
		return "", false
	}
	return path, true
}

// IsPlainTCP reports whether endpoint is reached unencrypted over the
// network, exposing a root-equivalent API: the client dials every scheme
// but unix and npipe over TCP, in clear text unless TLS is configured.
func IsPlainTCP(endpoint string, tlsConfigured bool) bool {
	scheme, _, ok := strings.Cut(endpoint, "://")
	if tlsConfigured || !ok {
		return false
	}
	scheme = strings.ToLower(scheme)
	return scheme != "unix" && scheme != "npipe"
}

// Engine is what the receiver learns of the daemon from GET /version.
type Engine struct {
	// Version is the daemon's: "20.10.24" for Docker, "4.3.1" for Podman.
	Version string
	// Podman says the daemon is Podman's Docker-compatible API (podman
	// system service), whose logs endpoint differs from Docker's.
	Podman bool
}

// podmanComponent is the name of the component Podman lists in GET /version.
const podmanComponent = "Podman Engine"

// EngineOf reads the daemon's version answer.
func EngineOf(v client.ServerVersionResult) Engine {
	e := Engine{Version: v.Version}
	for _, c := range v.Components {
		if c.Name == podmanComponent {
			e.Podman = true
		}
	}
	return e
}

// Runtime names the container runtime (container.runtime.name).
func (e Engine) Runtime() string {
	if e.Podman {
		return "podman"
	}
	return "docker"
}
