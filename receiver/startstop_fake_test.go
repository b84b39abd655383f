package receiver

// Start and shutdown, against the fake daemon: a daemon down at Start, a
// daemon appearing later, and shutdown (without start, twice, while the
// consumer refuses).

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/goleak"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

func TestFakeDaemonDownAtStartStartsFastAndShutsDownPromptly(t *testing.T) {
	dir := shortTempDir(t)
	cfg := testConfig("unix://" + filepath.Join(dir, "docker.sock"))
	host := newStatusHost()
	tt := componenttest.NewTelemetry()
	defer func() { _ = tt.Shutdown(context.Background()) }()
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tt.NewTelemetrySettings()
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, &fakeSink{})
	must(t, err)

	began := time.Now()
	must(t, r.Start(context.Background(), host))
	if took := time.Since(began); took > time.Second {
		t.Errorf("Start took %v with the daemon down", took)
	}
	host.waitStatus(t, 0, componentstatus.StatusRecoverableError)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	began = time.Now()
	must(t, r.Shutdown(ctx))
	if took := time.Since(began); took > time.Second {
		t.Errorf("Shutdown took %v", took)
	}
	if n := counter(t, tt, "dockerlogsrotating_stream_errors", "error.type", "connect"); n < 1 {
		t.Errorf("stream_errors{error.type=connect} = %d, want >= 1", n)
	}
}

// TestFakeDaemonAppearingLaterOnEndpointIsRead: fakedocker cannot listen on
// a chosen path, so the daemon "starts" on the endpoint by a symlink to its
// socket appearing there; the receiver only ever dials the endpoint path.
func TestFakeDaemonAppearingLaterOnEndpointIsRead(t *testing.T) {
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "docker.sock")
	cfg := testConfig("unix://" + sock)
	host := newStatusHost()
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, host)
	next := host.waitStatus(t, 0, componentstatus.StatusRecoverableError)

	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "late-daemon", Image: "ld:1"})
	ts := d.WriteLines(id, fakedocker.Stdout, "hello")
	must(t, os.Symlink(d.SocketPath(), sock))
	got := sink.waitCount(t, id, 1)
	checkRecords(t, got, []want{{stream: "stdout", body: "hello", ts: ts[0]}})
	checkResource(t, got, id, "late-daemon", "ld:1")
	host.waitStatus(t, next, componentstatus.StatusOK)
}

// shortTempDir is a directory whose socket paths fit in sun_path.
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "dlr")
	must(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func TestFakeShutdownWithoutStartIsSafeAndIdempotent(t *testing.T) {
	r, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), testConfig("unix:///nonexistent/docker.sock"), &fakeSink{})
	must(t, err)
	must(t, r.Shutdown(context.Background()))
	must(t, r.Shutdown(context.Background()))
	// Start after Shutdown starts nothing.
	must(t, r.Start(context.Background(), componenttest.NewNopHost()))
	must(t, r.Shutdown(context.Background()))
}

func TestFakeShutdownIsIdempotentAndLeavesNoGoroutine(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	d := fakedocker.New(t)
	reqs := watchRequests(d)
	id := running(d, fakedocker.Container{Name: "busy", Image: "busy:1"})
	d.WriteLines(id, fakedocker.Stdout, "one")
	cfg := fakeCfg(d)
	cfg.RotationInterval = minRotationInterval
	cfg.ResyncInterval = 200 * time.Millisecond
	sink := &fakeSink{}
	_, r := startReceiver(t, cfg, sink, nil)
	sink.waitCount(t, id, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	began := time.Now()
	must(t, r.Shutdown(ctx))
	if took := time.Since(began); took > time.Second {
		t.Errorf("Shutdown took %v", took)
	}
	must(t, r.Shutdown(ctx))
	must(t, d.WaitLogStreams(ctx, 0))
	must(t, d.WaitEventStreams(ctx, 0))
	everything := func(fakedocker.Request) bool { return true }
	before := reqs.count(everything)
	must(t, r.Start(context.Background(), componenttest.NewNopHost())) // after Shutdown: a no-op
	must(t, r.Shutdown(ctx))
	d.WriteLines(id, fakedocker.Stdout, "two")
	d.Close()
	after := reqs.count(everything)
	if after != before {
		t.Errorf("%d requests after Shutdown", after-before)
	}
	if got := sink.of(id); len(got) != 1 {
		t.Errorf("records after Shutdown:\n%s", describe(got))
	}
	goleak.VerifyNone(t, ignore)
}

func TestFakeShutdownReturnsPromptlyWhileTheConsumerRefuses(t *testing.T) {
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "refused", Image: "r:1"})
	d.WriteLines(id, fakedocker.Stdout, "never accepted")
	refusals := make(chan struct{}, 100)
	sink := &fakeSink{}
	sink.Refuse = func() error {
		select {
		case refusals <- struct{}{}:
		default:
		}
		return errors.New("downstream is full")
	}
	_, r := startReceiver(t, fakeCfg(d), sink, nil)
	for range 3 { // the follower retries with backoff
		select {
		case <-refusals:
		case <-time.After(fakeWait):
			t.Fatal("the consumer was not retried")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	began := time.Now()
	must(t, r.Shutdown(ctx))
	if took := time.Since(began); took > time.Second {
		t.Errorf("Shutdown took %v while the consumer refused", took)
	}
}
