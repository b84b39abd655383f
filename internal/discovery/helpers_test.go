package discovery

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"go.uber.org/zap/zaptest"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

// waitTimeout bounds every wait; on a healthy run events arrive in
// milliseconds.
const waitTimeout = 20 * time.Second

// rec is one call discovery made, in the order it made them.
type rec struct {
	kind      string // connected, status, failed, upsert, remove
	c         docker.Container
	atStartup bool
	id        string
	err       error
	version   string
}

func (r rec) String() string {
	switch r.kind {
	case "upsert":
		return fmt.Sprintf("upsert(%s running=%v startup=%v)", r.c.Name, r.c.Running, r.atStartup)
	case "remove":
		return fmt.Sprintf("remove(%.12s)", r.id)
	case "status":
		if r.err != nil {
			return "status(err)"
		}
		return "status(nil)"
	case "connected":
		return "connected(" + r.version + ")"
	}
	return r.kind
}

// recorder is a Handler that also records the callbacks, all in one log:
// discovery makes every call from its Run goroutine, so the log is ordered.
type recorder struct {
	mu      sync.Mutex
	log     []rec
	known   map[string]bool // ID -> running, as last upserted
	names   map[string]string
	listed  int
	changed chan struct{}
}

func newRecorder() *recorder {
	return &recorder{known: map[string]bool{}, names: map[string]string{}, changed: make(chan struct{})}
}

func (r *recorder) add(e rec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.kind {
	case "upsert":
		r.known[e.c.ID] = e.c.Running
		r.names[e.c.ID] = e.c.Name
	case "remove":
		delete(r.known, e.id)
	}
	r.log = append(r.log, e)
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *recorder) Upsert(c docker.Container, atStartup bool) {
	r.add(rec{kind: "upsert", c: c, atStartup: atStartup})
}
func (r *recorder) Remove(id string) { r.add(rec{kind: "remove", id: id}) }
func (r *recorder) IDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.known))
	for id := range r.known {
		ids = append(ids, id)
	}
	return ids
}

// Followed treats a container as followed while it was last seen running.
func (r *recorder) Followed(id string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.names[id], r.known[id]
}

func (r *recorder) Listed(exists, selected func(string) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listed++
}

func (r *recorder) listings() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.listed
}

func (r *recorder) connected(e docker.Engine) { r.add(rec{kind: "connected", version: e.Version}) }
func (r *recorder) status(err error)          { r.add(rec{kind: "status", err: err}) }
func (r *recorder) failed()                   { r.add(rec{kind: "failed"}) }

func (r *recorder) snapshot() []rec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rec(nil), r.log...)
}

// wait blocks until ok holds for the log and returns the log.
func (r *recorder) wait(t *testing.T, what string, ok func([]rec) bool) []rec {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for {
		r.mu.Lock()
		log := append([]rec(nil), r.log...)
		ch := r.changed
		r.mu.Unlock()
		if ok(log) {
			return log
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; log: %v", what, log)
		}
	}
}

// index returns the position of the n-th (1-based) record matching f, -1
// when there are fewer.
func index(log []rec, n int, f func(rec) bool) int {
	for i, e := range log {
		if f(e) {
			n--
			if n == 0 {
				return i
			}
		}
	}
	return -1
}

func count(log []rec, f func(rec) bool) int {
	n := 0
	for _, e := range log {
		if f(e) {
			n++
		}
	}
	return n
}

func isUpsert(id string) func(rec) bool {
	return func(e rec) bool { return e.kind == "upsert" && e.c.ID == id }
}
func isRemove(id string) func(rec) bool {
	return func(e rec) bool { return e.kind == "remove" && e.id == id }
}
func isStatusOK(e rec) bool  { return e.kind == "status" && e.err == nil }
func isStatusErr(e rec) bool { return e.kind == "status" && e.err != nil }
func isFailed(e rec) bool    { return e.kind == "failed" }
func isKind(k string) func(rec) bool {
	return func(e rec) bool { return e.kind == k }
}

func upserted(log []rec) []string {
	var names []string
	for _, e := range log {
		if e.kind == "upsert" {
			names = append(names, e.c.Name)
		}
	}
	return names
}

func newAPI(t *testing.T, endpoint string) *client.Client {
	t.Helper()
	c, err := docker.NewClient(docker.Config{Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newDiscovery returns a Discovery of the daemon at endpoint reporting to a
// fresh recorder, with a long resync (tests set a short one when they need
// it) and a short backoff.
func newDiscovery(t *testing.T, endpoint string) (*Discovery, *recorder) {
	t.Helper()
	r := newRecorder()
	return &Discovery{
		API:       newAPI(t, endpoint),
		Handler:   r,
		Logger:    zaptest.NewLogger(t),
		Resync:    time.Hour,
		Timeout:   10 * time.Second,
		Backoff:   backoff.Policy{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		Connected: r.connected,
		Status:    r.status,
		Failed:    r.failed,
	}, r
}

// run starts d.Run and returns a function that cancels it and checks that
// it returns promptly; the same runs at cleanup if the test did not call it.
func run(t *testing.T, d *Discovery) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Error("Run did not return within 5s of its context being cancelled")
				<-done
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// addRunning adds a started container and returns its ID.
func addRunning(d *fakedocker.Daemon, c fakedocker.Container) string {
	d.AddContainer(c)
	id := d.ContainerID(c.Name)
	d.Start(id)
	return id
}

func addCreated(d *fakedocker.Daemon, c fakedocker.Container) string {
	d.AddContainer(c)
	return d.ContainerID(c.Name)
}

func hasFilter(q string, key, value string) bool {
	return strings.Contains(q, `"`+key+`"`) && strings.Contains(q, `"`+value+`"`)
}

// subscribed waits until the fake daemon has registered the event stream.
// Docker sends the response headers before it registers the subscriber, so
// a status(nil) alone does not mean that new events reach discovery.
func subscribed(t *testing.T, fd *fakedocker.Daemon) {
	t.Helper()
	if err := fd.WaitEventStreams(ctxT(t), 1); err != nil {
		t.Fatalf("event stream not registered: %v", err)
	}
}
