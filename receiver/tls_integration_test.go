package receiver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/enginetest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
)

// tlsConfig is the receiver's tls block for files ca, cert and key.
func tlsConfig(ca, cert, key string) configoptional.Optional[configtls.ClientConfig] {
	c := configtls.NewDefaultClientConfig()
	c.CAFile, c.CertFile, c.KeyFile = ca, cert, key
	return configoptional.Some(c)
}

// tlsReceiverConfig reads the engine through p with mutual TLS.
func tlsReceiverConfig(e *dockertest.Engine, p *enginetest.TLSProxy, names string) *Config {
	cfg := testConfig(p.Endpoint())
	cfg.TLS = tlsConfig(p.CAFile(), p.CertFile(), p.KeyFile())
	cfg.Include.Labels = []string{dockertest.LabelRun + "=" + e.RunID()}
	cfg.Include.Names = []string{names}
	return cfg
}

// TestTLSReceiverReadsThroughMutualTLS reads real containers over
// tcp://127.0.0.1 through a TLS-terminating proxy that requires a client
// certificate, with a rotation every 500 ms: every line exactly once.
func TestTLSReceiverReadsThroughMutualTLS(t *testing.T) {
	t.Parallel()
	e := dockertest.Require(t)
	p := enginetest.NewTLSProxy(t, e.Endpoint())
	sink := &logsink.Sink{}
	cfg := tlsReceiverConfig(e, p, "tls-*")
	cfg.RotationInterval = 500 * time.Millisecond
	tt := run(t, cfg, sink)

	for _, o := range []struct {
		name    string
		tty     bool
		args    []string
		n       int
		streams []string
	}{
		{"tls-both", false, []string{"-n", "500", "-streams", "both", "-rate", "200", "-then", "sleep"}, 500, []string{"stdout", "stderr"}},
		{"tls-long", false, []string{"-n", "60", "-streams", "both", "-sizes", "100,16385,70000", "-rate", "30", "-utf8", "-then", "exit"}, 60, []string{"stdout", "stderr"}},
		{"tls-tty", true, []string{"-n", "200", "-streams", "stdout", "-rate", "100", "-then", "sleep"}, 200, []string{"stdout"}},
	} {
		c := e.Run(t, dockertest.RunOptions{Name: o.name, TTY: o.tty, Args: o.args})
		for _, s := range o.streams {
			sink.Checker.Expect(c.Name, s, o.n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sink.Checker.Wait(ctx); err != nil {
		t.Fatalf("not every line arrived: %v\n%s", err, sink.Checker.Report())
	}
	if err := sink.Checker.Report().Err(); err != nil {
		t.Fatalf("delivery not exactly once: %v", err)
	}
	rotations := counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "rotation")
	t.Logf("%d lines over mutual TLS, %d rotations; proxy: %v", len(sink.Records()), rotations, p)
	if hs := p.HandshakeErrors(); len(hs) > 0 {
		t.Errorf("failed handshakes: %v", hs)
	}
	if rotations < 3 {
		t.Errorf("only %d rotations", rotations)
	}
}

// TestTLSFollowStreamStaysOpenPastTwoMinutes: with rotation_interval 0 a
// follow stream over TLS stays open as long as the container runs; here a
// container writes a line every 10 s for 130 s. The stream must be opened
// once and never closed (no rotation, no error, streams_open 1 whenever a
// line arrives), every line must arrive, and the proxy must have carried
// one connection for the whole time.
func TestTLSFollowStreamStaysOpenPastTwoMinutes(t *testing.T) {
	t.Parallel()
	e := dockertest.Require(t)
	p := enginetest.NewTLSProxy(t, e.Endpoint())
	sink := &logsink.Sink{}
	cfg := tlsReceiverConfig(e, p, "tlslong-*")
	cfg.RotationInterval = 0
	tt := run(t, cfg, sink)

	const lines = 14 // at 0, 10, ..., 130 s
	c := e.Run(t, dockertest.RunOptions{Name: "tlslong", Args: []string{"-n", "14", "-streams", "stdout", "-rate", "0.1", "-then", "sleep"}})
	sink.Checker.Expect(c.Name, "stdout", lines)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	var open []int64
	for n := 1; n <= lines; n++ {
		if err := sink.WaitFor(ctx, n); err != nil {
			t.Fatalf("line %d did not arrive: %v", n, err)
		}
		open = append(open, gauge(t, tt, "dockerlogsrotating_streams_open"))
		if r := counter(t, tt, "dockerlogsrotating_stream_rotations", "", ""); r != 0 {
			t.Fatalf("after line %d (%v): %d streams closed; want the first one open", n, time.Since(start).Round(time.Second), r)
		}
	}
	took := time.Since(start)
	if err := sink.Checker.Report().Err(); err != nil {
		t.Fatalf("delivery not exactly once: %v", err)
	}
	var longest time.Duration
	for _, ci := range p.Conns() {
		longest = max(longest, ci.Duration())
	}
	t.Logf("%d lines over %v; streams_open when each line arrived %v; stream_rotations %d, stream_errors %d; proxy: %v",
		len(sink.Records()), took.Round(time.Second), open,
		counter(t, tt, "dockerlogsrotating_stream_rotations", "", ""), counter(t, tt, "dockerlogsrotating_stream_errors", "", ""), p)
	if took < 2*time.Minute {
		t.Errorf("the lines came over only %v; the test needs more than 2 minutes", took)
	}
	for i, n := range open {
		if n != 1 {
			t.Errorf("streams_open = %d when line %d arrived, want 1", n, i+1)
		}
	}
	if n := counter(t, tt, "dockerlogsrotating_stream_errors", "", ""); n != 0 {
		t.Errorf("stream_errors = %d", n)
	}
	if longest < 2*time.Minute {
		t.Errorf("no connection through the proxy lasted 2 minutes (longest %v): the stream was reconnected", longest)
	}
}

// TestTLSPlainTCPToTLSEndpointFailsToRead: without a tls block the
// receiver speaks plain HTTP to the TLS endpoint. Start still returns nil
// (a daemon problem never fails the collector), the failure is reported as
// a recoverable status, the receiver keeps retrying, and nothing is read.
func TestTLSPlainTCPToTLSEndpointFailsToRead(t *testing.T) {
	t.Parallel()
	e := dockertest.Require(t)
	p := enginetest.NewTLSProxy(t, e.Endpoint())
	c := e.Run(t, dockertest.RunOptions{Name: "tlsplain", Args: []string{"-n", "5", "-streams", "both", "-then", "sleep"}})
	cfg := tlsReceiverConfig(e, p, "tlsplain-*")
	cfg.TLS = configoptional.None[configtls.ClientConfig]()
	host := newStatusHost()
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, host) // fails the test unless Start returns nil
	host.waitStatus(t, 0, componentstatus.StatusRecoverableError)
	ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
	defer cancel()
	if err := p.WaitHandshakeErrors(ctx, 2); err != nil {
		t.Fatalf("the receiver did not retry: %v (%v)", err, p.HandshakeErrors())
	}
	if n := len(sink.all()); n != 0 {
		t.Errorf("%d records of %s read over plain TCP", n, c.Name)
	}
	host.mu.Lock()
	var last error
	for _, ev := range host.events {
		if ev.Err() != nil {
			last = ev.Err()
		}
	}
	host.mu.Unlock()
	t.Logf("status error: %v; proxy: %v; handshake errors: %v", last, p, p.HandshakeErrors())
	for _, ci := range p.Conns() {
		if ci.Handshake == nil {
			t.Errorf("a connection completed a TLS handshake without a client certificate")
		}
	}
}

// TestTLSUnreadableFilesFailStart: tls files that cannot be read fail Start
// with an error naming tls (the collector then refuses to start), rather
// than a receiver that silently never connects.
func TestTLSUnreadableFilesFailStart(t *testing.T) {
	dir := t.TempDir()
	p := enginetest.NewTLSProxy(t, "unix:///nonexistent.sock") // just for valid files
	missing := filepath.Join(dir, "missing.pem")
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		ca, cert, key  string
		wantInErrorMsg string
	}{
		{"missing ca_file", missing, p.CertFile(), p.KeyFile(), "missing.pem"},
		{"ca_file is a directory", dir, p.CertFile(), p.KeyFile(), dir},
		{"ca_file is not PEM", garbage, p.CertFile(), p.KeyFile(), ""},
		{"missing cert_file", p.CAFile(), missing, p.KeyFile(), "missing.pem"},
		{"key_file is a directory", p.CAFile(), p.CertFile(), dir, ""},
		{"cert_file without key_file", p.CAFile(), p.CertFile(), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Endpoint = p.Endpoint()
			cfg.TLS = tlsConfig(tc.ca, tc.cert, tc.key)
			set := receivertest.NewNopSettings(metadata.Type)
			r, err := NewFactory().CreateLogs(context.Background(), set, cfg, &fakeSink{})
			if err != nil {
				if strings.Contains(err.Error(), "tls") {
					return // refused even earlier
				}
				t.Fatal(err)
			}
			err = r.Start(context.Background(), componenttest.NewNopHost())
			if err == nil || !strings.Contains(err.Error(), "tls") || !strings.Contains(err.Error(), tc.wantInErrorMsg) {
				t.Errorf("Start = %v; want an error naming tls and %q", err, tc.wantInErrorMsg)
			}
			if err := r.Shutdown(context.Background()); err != nil {
				t.Errorf("Shutdown after a failed Start: %v", err)
			}
			t.Logf("Start: %v", err)
		})
	}
}
