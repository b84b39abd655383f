package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/match"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

func TestInitialListingAndEvents(t *testing.T) {
	fd := fakedocker.New(t, fakedocker.WithEngineVersion("26.1.4"))
	web := addRunning(fd, fakedocker.Container{Name: "web", Labels: map[string]string{"app": "web"}, Env: []string{"A=1"}})
	api := addRunning(fd, fakedocker.Container{Name: "api", TTY: true})
	idle := addCreated(fd, fakedocker.Container{Name: "idle"})
	exited := addRunning(fd, fakedocker.Container{Name: "exited"})
	fd.Stop(exited)

	d, r := newDiscovery(t, fd.Endpoint())
	run(t, d)

	log := r.wait(t, "the first listing", func(l []rec) bool { return index(l, 1, isStatusOK) >= 0 })
	subscribed(t, fd)
	if log[0].kind != "connected" || log[0].version != "26.1.4" {
		t.Fatalf("first call %v, want connected(26.1.4) before anything is reported", log[0])
	}
	first := log[:index(log, 1, isStatusOK)]
	if got := upserted(first); !sameSet(got, []string{"web", "api"}) {
		t.Fatalf("first listing upserted %v, want web and api", got)
	}
	for _, e := range first {
		if e.kind == "upsert" && (!e.atStartup || !e.c.Running) {
			t.Errorf("%v: want atStartup and running", e)
		}
	}
	if i := index(first, 1, isUpsert(web)); i >= 0 {
		c := first[i].c
		if c.Labels["app"] != "web" || c.Env["A"] != "1" || c.Image != "busybox:latest" || c.StartedAt.IsZero() || c.LogDriver != "json-file" {
			t.Errorf("web reported as %+v", c)
		}
	}
	if i := index(first, 1, isUpsert(api)); i >= 0 && !first[i].c.TTY {
		t.Errorf("api reported without TTY: %+v", first[i].c)
	}
	for _, id := range []string{idle, exited} {
		if count(log, isUpsert(id)) > 0 {
			t.Errorf("container %.12s that is not running was reported by the listing", id)
		}
	}

	// The event subscription asks for the container events that matter.
	evs := fd.RequestsTo("/events")
	if len(evs) != 1 {
		t.Fatalf("/events requests: %d, want 1", len(evs))
	}
	f := evs[0].Query.Get("filters")
	for _, kv := range [][2]string{{"type", "container"}, {"event", "start"}, {"event", "die"}, {"event", "destroy"}, {"event", "rename"}} {
		if !hasFilter(f, kv[0], kv[1]) {
			t.Errorf("events filters %s lack %s=%s", f, kv[0], kv[1])
		}
	}
	if evs[0].Query.Get("since") != "" {
		t.Errorf("first subscription has since=%q", evs[0].Query.Get("since"))
	}

	// A container started later arrives through the event stream.
	late := addRunning(fd, fakedocker.Container{Name: "late"})
	log = r.wait(t, "late", func(l []rec) bool { return index(l, 1, isUpsert(late)) >= 0 })
	if e := log[index(log, 1, isUpsert(late))]; e.atStartup || !e.c.Running || e.c.Name != "late" {
		t.Errorf("late reported as %v, want running, not at startup", e)
	}

	// A stopped container is re-inspected and reported as not running.
	fd.Stop(web)
	r.wait(t, "web stopped", func(l []rec) bool {
		return index(l, 1, func(e rec) bool { return isUpsert(web)(e) && !e.c.Running && !e.atStartup }) >= 0
	})

	// A rename re-inspects and reports the new name.
	fd.Rename(api, "api-v2")
	r.wait(t, "api renamed", func(l []rec) bool {
		return index(l, 1, func(e rec) bool { return isUpsert(api)(e) && e.c.Name == "api-v2" && !e.atStartup }) >= 0
	})

	// A destroyed container is removed.
	fd.Remove(late)
	r.wait(t, "late removed", func(l []rec) bool { return index(l, 1, isRemove(late)) >= 0 })

	// A container that is created but never started is never reported.
	for _, e := range r.snapshot() {
		if e.kind == "upsert" && (e.c.ID == idle || e.c.ID == exited) {
			t.Errorf("unexpected %v", e)
		}
		if isStatusErr(e) || isFailed(e) {
			t.Errorf("unexpected %v while the daemon was healthy", e)
		}
	}
}

func TestSelection(t *testing.T) {
	fd := fakedocker.New(t)
	m, err := match.Compile(
		match.Rules{Names: []string{"web-*"}},
		match.Rules{Labels: []string{"skip=true"}, Images: []string{"bad:*"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	web1 := addRunning(fd, fakedocker.Container{Name: "web-1"})
	addRunning(fd, fakedocker.Container{Name: "web-2", Labels: map[string]string{"skip": "true"}})
	addRunning(fd, fakedocker.Container{Name: "web-bad", Image: "bad:1"})
	addRunning(fd, fakedocker.Container{Name: "db"})

	d, r := newDiscovery(t, fd.Endpoint())
	d.Matcher = m
	run(t, d)
	log := r.wait(t, "the first listing", func(l []rec) bool { return index(l, 1, isStatusOK) >= 0 })
	subscribed(t, fd)
	if got := upserted(log); !sameSet(got, []string{"web-1"}) {
		t.Fatalf("first listing upserted %v, want only web-1", got)
	}
	if e := log[index(log, 1, isUpsert(web1))]; !e.atStartup {
		t.Errorf("%v: want atStartup", e)
	}

	// Events go through the same selection. They are handled in order, so
	// once web-4 is in, the others were looked at and left out.
	addRunning(fd, fakedocker.Container{Name: "db-2"})
	addRunning(fd, fakedocker.Container{Name: "web-3", Labels: map[string]string{"skip": "true"}})
	web4 := addRunning(fd, fakedocker.Container{Name: "web-4", Labels: map[string]string{"skip": "no"}})
	log = r.wait(t, "web-4", func(l []rec) bool { return index(l, 1, isUpsert(web4)) >= 0 })
	if got := upserted(log); !sameSet(got, []string{"web-1", "web-4"}) {
		t.Fatalf("upserted %v, want web-1 and web-4", got)
	}

	// A rename can move a container out of the selection: discovery does
	// not report it any more (the handler keeps what it has).
	web5 := addRunning(fd, fakedocker.Container{Name: "web-5"})
	r.wait(t, "web-5", func(l []rec) bool { return index(l, 1, isUpsert(web5)) >= 0 })
	fd.Rename(web5, "db-5")
	web6 := addRunning(fd, fakedocker.Container{Name: "web-6"})
	log = r.wait(t, "web-6", func(l []rec) bool { return index(l, 1, isUpsert(web6)) >= 0 })
	if n := count(log, isUpsert(web5)); n != 1 {
		t.Errorf("web-5 renamed to db-5 reported %d times, want once (before the rename)", n)
	}
}

func TestSelfExcluded(t *testing.T) {
	fd := fakedocker.New(t)
	self := addRunning(fd, fakedocker.Container{Name: "collector"})
	byHost := addRunning(fd, fakedocker.Container{Name: "collector-by-hostname"})
	other := addRunning(fd, fakedocker.Container{Name: "other"})

	d, r := newDiscovery(t, fd.Endpoint())
	// The fake sets each container's hostname to its short ID, as Docker does.
	d.Self = SelfID{ids: map[string]bool{self: true}, hostname: byHost[:12]}
	run(t, d)
	log := r.wait(t, "the first listing", func(l []rec) bool { return index(l, 1, isStatusOK) >= 0 })
	subscribed(t, fd)
	if got := upserted(log); !sameSet(got, []string{"other"}) {
		t.Fatalf("upserted %v, want only other", got)
	}

	// Restarting the collector's container does not report it either.
	fd.Stop(self)
	fd.Start(self)
	fd.Stop(byHost)
	fd.Start(byHost)
	fd.Stop(other)
	log = r.wait(t, "other stopped", func(l []rec) bool {
		return index(l, 1, func(e rec) bool { return isUpsert(other)(e) && !e.c.Running }) >= 0
	})
	if n := count(log, isUpsert(self)) + count(log, isUpsert(byHost)); n != 0 {
		t.Errorf("the collector's own container was reported %d times: %v", n, log)
	}
}

// TestDaemonDownThenUp: the daemon answers 503 to /version until it
// "comes up"; discovery reports the error, counts failures, retries with
// backoff and, once connected, lists as at startup.
func TestDaemonDownThenUp(t *testing.T) {
	fd := fakedocker.New(t)
	web := addRunning(fd, fakedocker.Container{Name: "web"})
	var up atomic.Bool
	fd.SetFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
		if req.Path == "/version" && !up.Load() {
			w.Status(http.StatusServiceUnavailable, "daemon is starting")
			return true
		}
		return false
	})

	d, r := newDiscovery(t, fd.Endpoint())
	run(t, d)
	log := r.wait(t, "three failed attempts", func(l []rec) bool { return count(l, isFailed) >= 3 })
	for _, e := range log {
		switch {
		case e.kind == "connected" || e.kind == "upsert" || isStatusOK(e):
			t.Fatalf("%v while the daemon was down", e)
		case isStatusErr(e) && !strings.Contains(e.err.Error(), "connect to Docker daemon"):
			t.Errorf("status error %q does not say what failed", e.err)
		}
	}
	// Every failure is reported both ways, status first.
	for i := 1; i <= 3; i++ {
		if s, f := index(log, i, isStatusErr), index(log, i, isFailed); s < 0 || s > f {
			t.Errorf("failure %d: status(err) at %d, failed at %d", i, s, f)
		}
	}

	up.Store(true)
	log = r.wait(t, "recovery", func(l []rec) bool { return index(l, 1, isStatusOK) >= 0 })
	ok := index(log, 1, isStatusOK)
	conn := index(log, 1, isKind("connected"))
	up1 := index(log, 1, isUpsert(web))
	if conn < 0 || up1 < 0 || !(conn < up1 && up1 < ok) {
		t.Fatalf("after recovery want connected, upsert(web), status(nil) in order; log %v", log)
	}
	if !log[up1].atStartup {
		t.Errorf("%v: the first successful listing after Run started is at startup", log[up1])
	}
	if n := count(log[conn:], isFailed); n != 0 {
		t.Errorf("%d failures after connecting", n)
	}
}

func TestDaemonUnreachable(t *testing.T) {
	endpoint := "unix://" + t.TempDir() + "/absent.sock"
	d, r := newDiscovery(t, endpoint)
	stop := run(t, d)
	log := r.wait(t, "failed attempts", func(l []rec) bool { return count(l, isFailed) >= 4 })
	if n := count(log, isKind("connected")) + count(log, isKind("upsert")) + count(log, isStatusOK); n != 0 {
		t.Errorf("connected/upsert/status(nil) without a daemon: %v", log)
	}
	if count(log, isStatusErr) < 3 {
		t.Errorf("status(err) not reported on every failure: %v", log)
	}
	stop() // while retrying: returns promptly (checked by stop)
}

// TestListTimeout: a hanging list request is bounded by Timeout, counted as
// a failure, and retried.
func TestListTimeout(t *testing.T) {
	fd := fakedocker.New(t)
	web := addRunning(fd, fakedocker.Container{Name: "web"})
	var hang atomic.Bool
	hang.Store(true)
	fd.SetFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
		if req.Path == "/containers/json" && hang.Load() {
			w.Hang()
			return true
		}
		return false
	})
	d, r := newDiscovery(t, fd.Endpoint())
	d.Timeout = 50 * time.Millisecond
	run(t, d)
	log := r.wait(t, "a failed listing", func(l []rec) bool { return count(l, isFailed) >= 1 })
	if i := index(log, 1, isStatusErr); i < 0 || !strings.Contains(log[i].err.Error(), "list containers") {
		t.Errorf("want status(err) about the listing; log %v", log)
	}
	hang.Store(false)
	log = r.wait(t, "web", func(l []rec) bool { return index(l, 1, isUpsert(web)) >= 0 })
	if !log[index(log, 1, isUpsert(web))].atStartup {
		t.Error("the first successful listing is at startup")
	}
}

// TestEventsCutRelists: the event stream is cut right after its headers; a
// container started while discovery is disconnected is found by the listing
// of the next session.
func TestEventsCutRelists(t *testing.T) {
	fd := fakedocker.New(t)
	web := addRunning(fd, fakedocker.Container{Name: "web"})
	doomed := addRunning(fd, fakedocker.Container{Name: "doomed"})
	gap := addCreated(fd, fakedocker.Container{Name: "gap"})
	var n atomic.Int32
	fd.SetEventsFault(func(_ fakedocker.Request, w *fakedocker.FaultWriter) bool {
		switch n.Add(1) {
		case 1:
			w.CutAfter(0)
			return true
		case 2:
			// Between the cut and the new subscription.
			fd.Start(gap)
			fd.Remove(doomed)
		}
		return false
	})

	d, r := newDiscovery(t, fd.Endpoint())
	run(t, d)
	log := r.wait(t, "the second session", func(l []rec) bool { return index(l, 2, isStatusOK) >= 0 })
	subscribed(t, fd)
	ok1, ok2 := index(log, 1, isStatusOK), index(log, 2, isStatusOK)
	if i := index(log, 1, isUpsert(web)); i < 0 || i > ok1 || !log[i].atStartup {
		t.Errorf("web not reported at startup by the first listing: %v", log)
	}
	if e, f := index(log, 1, isStatusErr), index(log, 1, isFailed); e < ok1 || e > ok2 || f < ok1 || f > ok2 {
		t.Errorf("want status(err) and failed between the sessions: %v", log)
	} else if !strings.Contains(log[e].err.Error(), "events") {
		t.Errorf("status error %q does not name the event stream", log[e].err)
	}
	g := index(log, 1, isUpsert(gap))
	if g < 0 || g < ok1 || g > ok2 {
		t.Fatalf("gap not found by the re-listing of the second session (before its status(nil)): %v", log)
	}
	if log[g].atStartup || !log[g].c.Running {
		t.Errorf("%v: want running, not at startup", log[g])
	}
	if i := index(log, 1, isRemove(doomed)); i < ok1 || i > ok2 {
		t.Errorf("doomed, removed while disconnected, not removed by the re-listing: %v", log)
	}
	if c := index(log[ok1:], 1, isKind("connected")); c < 0 {
		t.Errorf("Connected not called again on reconnection: %v", log)
	}
	if n := len(fd.RequestsTo("/events")); n < 2 {
		t.Errorf("/events requests %d, want a resubscription", n)
	}

	// The new subscription works.
	late := addRunning(fd, fakedocker.Container{Name: "late"})
	r.wait(t, "late", func(l []rec) bool { return index(l, 1, isUpsert(late)) >= 0 })
}

// TestReconnectResumesEventsSince: after the event stream ends, the next
// subscription asks the daemon to replay from the newest event handled.
func TestReconnectResumesEventsSince(t *testing.T) {
	fd := fakedocker.New(t)
	early := addCreated(fd, fakedocker.Container{Name: "early"})
	var n atomic.Int32
	var lastNano atomic.Int64
	fd.SetEventsFault(func(_ fakedocker.Request, w *fakedocker.FaultWriter) bool {
		if n.Add(1) != 1 {
			return false
		}
		// Send one event, then end the stream.
		fd.Start(early)
		evs := fd.Events()
		last := evs[len(evs)-1]
		lastNano.Store(last.TimeNano)
		b, err := json.Marshal(last)
		if err != nil {
			t.Error(err)
		}
		_ = w.WriteRaw(append(b, '\n'))
		return true
	})

	d, r := newDiscovery(t, fd.Endpoint())
	run(t, d)
	log := r.wait(t, "the second session", func(l []rec) bool { return index(l, 2, isStatusOK) >= 0 })
	ok1 := index(log, 1, isStatusOK)
	if i := index(log[ok1:], 1, func(e rec) bool { return isUpsert(early)(e) && !e.atStartup }); i < 0 {
		t.Errorf("the start event was not handled: %v", log)
	}
	evs := fd.RequestsTo("/events")
	if len(evs) < 2 {
		t.Fatalf("/events requests %d, want 2", len(evs))
	}
	ns := lastNano.Load()
	want := fmt.Sprintf("%d.%09d", ns/1e9, ns%1e9)
	if got := evs[1].Query.Get("since"); got != want {
		t.Errorf("resubscription since=%q, want %q (the newest event handled)", got, want)
	}
}

// TestPeriodicResync: with the event stream silent, the periodic listing
// finds new containers, stopped ones and removed ones.
func TestPeriodicResync(t *testing.T) {
	fd := fakedocker.New(t)
	web := addRunning(fd, fakedocker.Container{Name: "web"})
	fd.SetEventsFault(func(_ fakedocker.Request, w *fakedocker.FaultWriter) bool {
		w.WriteHeader(http.StatusOK)
		<-w.Context().Done()
		return true
	})
	d, r := newDiscovery(t, fd.Endpoint())
	d.Resync = 20 * time.Millisecond
	run(t, d)
	r.wait(t, "the first listing", func(l []rec) bool { return index(l, 1, isStatusOK) >= 0 })

	late := addRunning(fd, fakedocker.Container{Name: "late"})
	log := r.wait(t, "late", func(l []rec) bool { return index(l, 1, isUpsert(late)) >= 0 })
	if e := log[index(log, 1, isUpsert(late))]; e.atStartup || !e.c.Running {
		t.Errorf("%v: want running, not at startup", e)
	}

	// A rename the event stream missed is caught by the listing; a followed
	// container that did not change is not inspected again.
	fd.Rename(web, "web-renamed")
	r.wait(t, "web renamed", func(l []rec) bool {
		return index(l, 1, func(e rec) bool { return isUpsert(web)(e) && e.c.Name == "web-renamed" }) >= 0
	})
	inspects := len(fd.RequestsTo("/containers/" + web + "/json"))
	if inspects == 0 {
		t.Fatal("no inspect of web recorded")
	}
	listed := r.listings()
	for deadline := time.Now().Add(10 * time.Second); r.listings() < listed+3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no three listings within 10 s")
		}
	}
	if n := len(fd.RequestsTo("/containers/" + web + "/json")); n != inspects {
		t.Errorf("%d more inspects of an unchanged followed container over 3 listings", n-inspects)
	}

	fd.Stop(web)
	r.wait(t, "web stopped", func(l []rec) bool {
		return index(l, 1, func(e rec) bool { return isUpsert(web)(e) && !e.c.Running }) >= 0
	})

	fd.Remove(late)
	r.wait(t, "late removed", func(l []rec) bool { return index(l, 1, isRemove(late)) >= 0 })

	for _, e := range r.snapshot() {
		if isStatusErr(e) || isFailed(e) {
			t.Errorf("unexpected %v", e)
		}
	}
}

// TestInspectErrorSkipsContainer: an inspect failure other than "not found"
// leaves the container out of this listing (the next one catches it) and
// does not fail the session.
func TestInspectErrorSkipsContainer(t *testing.T) {
	fd := fakedocker.New(t)
	flaky := addRunning(fd, fakedocker.Container{Name: "flaky"})
	web := addRunning(fd, fakedocker.Container{Name: "web"})
	var broken atomic.Bool
	broken.Store(true)
	fd.SetFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
		if req.Path == "/containers/"+flaky+"/json" && broken.Load() {
			w.Status(http.StatusInternalServerError, "boom")
			return true
		}
		return false
	})
	d, r := newDiscovery(t, fd.Endpoint())
	d.Resync = 20 * time.Millisecond
	run(t, d)
	log := r.wait(t, "the first listing", func(l []rec) bool { return index(l, 1, isStatusOK) >= 0 })
	if got := upserted(log); !sameSet(got, []string{"web"}) {
		t.Fatalf("first listing upserted %v, want web only", got)
	}
	if count(log, isRemove(flaky)) != 0 {
		t.Error("an inspect error removed the container")
	}
	broken.Store(false)
	log = r.wait(t, "flaky", func(l []rec) bool { return index(l, 1, isUpsert(flaky)) >= 0 })
	if log[index(log, 1, isUpsert(flaky))].atStartup {
		t.Error("a container found by a later listing is not at startup")
	}
	if count(log, isFailed) != 0 {
		t.Errorf("an inspect error failed the session: %v", log)
	}
	_ = web
}

func TestRunReturnsOnCancel(t *testing.T) {
	t.Run("connected", func(t *testing.T) {
		fd := fakedocker.New(t)
		addRunning(fd, fakedocker.Container{Name: "web"})
		d, r := newDiscovery(t, fd.Endpoint())
		stop := run(t, d)
		r.wait(t, "the first listing", func(l []rec) bool { return index(l, 1, isStatusOK) >= 0 })
		if err := fd.WaitEventStreams(ctxT(t), 1); err != nil {
			t.Fatal(err)
		}
		stop()
		// The event stream was closed with the session.
		if err := fd.WaitEventStreams(ctxT(t), 0); err != nil {
			t.Fatal("event stream still open after Run returned")
		}
	})
	t.Run("version hangs", func(t *testing.T) {
		fd := fakedocker.New(t)
		entered := make(chan struct{}, 1)
		fd.SetFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
			if req.Path != "/version" {
				return false
			}
			entered <- struct{}{}
			w.Hang()
			return true
		})
		d, _ := newDiscovery(t, fd.Endpoint())
		d.Timeout = time.Hour // only the cancellation can end the request
		stop := run(t, d)
		waitChan(t, entered)
		stop()
	})
	t.Run("events hang before headers", func(t *testing.T) {
		fd := fakedocker.New(t)
		entered := make(chan struct{}, 1)
		fd.SetEventsFault(func(_ fakedocker.Request, w *fakedocker.FaultWriter) bool {
			entered <- struct{}{}
			w.Hang()
			return true
		})
		d, r := newDiscovery(t, fd.Endpoint())
		stop := run(t, d)
		waitChan(t, entered)
		stop()
		if n := count(r.snapshot(), isKind("upsert")); n != 0 {
			t.Errorf("%d upserts", n)
		}
	})
	t.Run("in backoff", func(t *testing.T) {
		fd := fakedocker.New(t)
		fd.SetFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
			if req.Path == "/version" {
				w.Status(http.StatusInternalServerError, "nope")
				return true
			}
			return false
		})
		d, r := newDiscovery(t, fd.Endpoint())
		d.Backoff = backoff.Policy{Initial: time.Hour, Max: time.Hour}
		stop := run(t, d)
		r.wait(t, "a failure", func(l []rec) bool { return count(l, isFailed) >= 1 })
		stop()
	})
	t.Run("already cancelled", func(t *testing.T) {
		fd := fakedocker.New(t)
		d, r := newDiscovery(t, fd.Endpoint())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		d.Run(ctx)
		if len(r.snapshot()) != 0 {
			t.Errorf("calls after a cancelled start: %v", r.snapshot())
		}
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func waitChan(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatal("timed out")
	}
}

func sameSet(got, want []string) bool {
	g := slices.Clone(got)
	slices.Sort(g)
	g = slices.Compact(g)
	w := slices.Clone(want)
	slices.Sort(w)
	return slices.Equal(g, w) && len(got) == len(want)
}
