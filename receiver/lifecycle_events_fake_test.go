package receiver

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

// lcEvents returns the lifecycle records among recs, as
// "container event.name" in the order delivered.
func lcEvents(recs []fakeRecord) []string {
	var out []string
	for _, r := range recs {
		if name, ok := r.Attrs["event.name"].(string); ok {
			out = append(out, r.Container+" "+name)
		}
	}
	return out
}

// lcWait waits until the lifecycle records of sink are at least want, and
// requires them to be exactly want.
func lcWait(t *testing.T, sink *fakeSink, want ...string) []fakeRecord {
	t.Helper()
	recs := sink.waitUntil(t, fmt.Sprintf("%d lifecycle records", len(want)), func(recs []fakeRecord) bool {
		return len(lcEvents(recs)) >= len(want)
	})
	if got := strings.Join(lcEvents(recs), ", "); got != strings.Join(want, ", ") {
		t.Fatalf("lifecycle records:\n  %s\nwant\n  %s", got, strings.Join(want, ", "))
	}
	return recs
}

// lcWaitStreams waits until n event streams are open: discovery's, and
// the lifecycle watcher's when enabled.
func lcWaitStreams(t *testing.T, d *fakedocker.Daemon, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
	defer cancel()
	must(t, d.WaitEventStreams(ctx, n))
}

// TestFakeLifecycleEventsShareTheResourceOfTheContainersLines: with
// lifecycle_events on, a selected container's start and die come through
// the same consumer as its lines, with the very resource of its lines; an
// excluded container's events do not come at all.
func TestFakeLifecycleEventsShareTheResourceOfTheContainersLines(t *testing.T) {
	d := fakedocker.New(t, fakedocker.WithInfo(fakedocker.Info{Name: "host-7"}))
	cfg := fakeCfg(d)
	cfg.LifecycleEvents.Enabled = true
	cfg.Exclude.Names = []string{"debug-*"}
	cfg.Labels.Include = []string{"com.example.*"}
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, nil)
	lcWaitStreams(t, d, 2)

	web := running(d, fakedocker.Container{Name: "web", Image: "shop/web:1.2",
		Labels: map[string]string{"com.example.team": "a"}, Env: []string{"OTEL_SERVICE_NAME=checkout"}})
	debug := running(d, fakedocker.Container{Name: "debug-1", Image: "x:1"})
	d.WriteLines(web, fakedocker.Stdout, "hello")
	d.WriteLines(debug, fakedocker.Stdout, "not read")
	sink.waitBody(t, web, "hello")
	d.Exit(debug, 1)
	d.Exit(web, 3)
	recs := lcWait(t, sink, "web docker.container.start", "web docker.container.die")

	var line map[string]any
	for _, r := range recs {
		if r.ID == debug {
			t.Errorf("record of the excluded container: %q %v", r.Body, r.Attrs)
		}
		if r.ID == web && r.Body == "hello" {
			line = r.Resource
		}
	}
	if line["service.name"] != "checkout" || line["container.label.com.example.team"] != "a" || line["host.name"] != "host-7" {
		t.Fatalf("the line's resource lacks what the test compares: %v", line)
	}
	for _, r := range recs {
		if _, ok := r.Attrs["event.name"]; !ok {
			continue
		}
		equalRes(t, r.Body, r.Resource, line)
		if r.Stream != "" {
			t.Errorf("%q: log.iostream %q on a lifecycle record", r.Body, r.Stream)
		}
		if r.Attrs["event.name"] == "docker.container.die" && (r.Attrs["process.exit.code"] != int64(3) || r.Body != "container web exited with code 3") {
			t.Errorf("die record: %q %v", r.Body, r.Attrs)
		}
	}
}

// TestFakeLifecycleEventsAreOffByDefault: without the option no lifecycle
// record comes, and only discovery reads the event stream.
func TestFakeLifecycleEventsAreOffByDefault(t *testing.T) {
	d := fakedocker.New(t)
	sink := &fakeSink{}
	startReceiver(t, fakeCfg(d), sink, nil)
	lcWaitStreams(t, d, 1)
	id := running(d, fakedocker.Container{Name: "quiet"})
	d.WriteLines(id, fakedocker.Stdout, "a line")
	d.Exit(id, 3)
	d.Start(id)
	d.WriteLines(id, fakedocker.Stdout, "after the restart")
	recs := sink.waitBody(t, id, "after the restart")
	if ev := lcEvents(recs); len(ev) != 0 {
		t.Fatalf("lifecycle records with the option off: %v", ev)
	}
	if n := d.OpenEventStreams(); n != 1 {
		t.Fatalf("%d event streams open, want discovery's only", n)
	}
}

// TestFakeLifecycleEventsResumeAcrossACollectorRestart: with storage, a
// restarted collector delivers the events that happened while none ran,
// once, and none that the one before it delivered.
func TestFakeLifecycleEventsResumeAcrossACollectorRestart(t *testing.T) {
	d := fakedocker.New(t)
	host := rstHost(t.TempDir())
	cfg := fakeCfg(d)
	cfg.LifecycleEvents.Enabled = true
	cfg.Storage = &rstStorageID

	first := &fakeSink{}
	_, r := rstStart(t, cfg, first, host)
	lcWaitStreams(t, d, 2)
	a := running(d, fakedocker.Container{Name: "a"})
	lcWait(t, first, "a docker.container.start")
	ctx, cancel := context.WithTimeout(context.Background(), fakeWait)
	defer cancel()
	must(t, r.Shutdown(ctx))

	// While no collector runs.
	d.Exit(a, 3)
	b := running(d, fakedocker.Container{Name: "b"})
	d.EmitContainerEvent(b, "health_status: healthy", nil)

	second := &fakeSink{}
	rstStart(t, cfg, second, host)
	lcWait(t, second, "a docker.container.die", "b docker.container.start", "b docker.container.health_status")
	d.EmitContainerEvent(b, "oom", nil)
	lcWait(t, second, "a docker.container.die", "b docker.container.start", "b docker.container.health_status", "b docker.container.oom")
	if got := lcEvents(first.all()); len(got) != 1 {
		t.Fatalf("the first collector delivered %v", got)
	}
}
