package lifecycle

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

// TestWatcherEmitsTheEventsOfSelectedContainers: every lifecycle event of a
// selected container becomes one record, in order, with the event's time,
// name and attributes and the container's resource; an unselected
// container's events and the events that only keep the cache right
// (rename, destroy) become none.
func TestWatcherEmitsTheEventsOfSelectedContainers(t *testing.T) {
	h := newHarness(t)
	s := newSink()
	h.start(h.watcher(s, nil))

	web := h.running(fakedocker.Container{Name: "web", Image: "shop/web:2"})
	other := h.running(fakedocker.Container{Name: "other", Image: "o:1", Labels: map[string]string{"skip": "1"}})
	h.d.EmitContainerEvent(web, "kill", map[string]string{"signal": "15"})
	h.d.EmitContainerEvent(web, "health_status: healthy", nil)
	h.d.EmitContainerEvent(other, "oom", nil)
	h.d.EmitContainerEvent(web, "health_status: unhealthy", nil)
	h.d.EmitContainerEvent(web, "oom", nil)
	h.d.Exit(web, 3)
	h.d.Exit(other, 1)
	h.d.Start(web)
	h.d.EmitContainerEvent(web, "restart", nil)
	// The resource is the container as the daemon knows it when the event
	// is read: the rename waits for the records before it.
	s.wait(t, 8)
	h.d.Rename(web, "web2")
	h.d.EmitContainerEvent(web, "kill", map[string]string{"signal": "9"})
	h.d.Remove(web) // die (exit 0), destroy

	recs := s.wait(t, 10)
	want := "web docker.container.start, web docker.container.kill, web docker.container.health_status, " +
		"web docker.container.health_status, web docker.container.oom, web docker.container.die, " +
		"web docker.container.start, web docker.container.restart, web2 docker.container.kill, web2 docker.container.die"
	if got := names(recs); got != want {
		t.Fatalf("records:\n  %s\nwant\n  %s", got, want)
	}
	times := map[string][]int64{}
	for _, m := range h.d.Events() {
		times[m.Actor.ID] = append(times[m.Actor.ID], m.TimeNano)
	}
	for i, r := range recs {
		if r.ID != web || r.Image != "shop/web:2" {
			t.Errorf("record %d (%s): resource id %.12s image %q", i, r, r.ID, r.Image)
		}
		found := false
		for _, ts := range times[web] {
			found = found || ts == r.Time
		}
		if !found {
			t.Errorf("record %d (%s): timestamp %d is no event's time", i, r, r.Time)
		}
	}
	checks := []struct {
		i     int
		key   string
		value any
	}{
		{1, AttrSignal, int64(15)}, {2, AttrHealthStatus, "healthy"}, {3, AttrHealthStatus, "unhealthy"},
		{5, AttrExitCode, int64(3)}, {8, AttrSignal, int64(9)}, {9, AttrExitCode, int64(0)},
	}
	for _, c := range checks {
		if got := recs[c.i].Attrs[c.key]; got != c.value {
			t.Errorf("record %d (%s): %s = %v, want %v", c.i, recs[c.i], c.key, got, c.value)
		}
	}
	if recs[5].Body != "container web exited with code 3" {
		t.Errorf("die body %q", recs[5].Body)
	}
	// Counted once the consumer returned: right after the sink took them.
	h.eventually("lifecycle_events = 10", func() bool { return h.counter("dockerlogsrotating_lifecycle_events") == 10 })
}

// TestWatcherResumesFromTheSavedPositionExactlyOnce: a second watcher on
// the first one's store delivers exactly the events that happened after
// the first stopped (while no watcher ran), none of those already
// delivered, and then the live ones.
func TestWatcherResumesFromTheSavedPositionExactlyOnce(t *testing.T) {
	h := newHarness(t)
	store := &memStore{}
	s1 := newSink()
	stop := h.start(h.watcher(s1, store))
	a := h.running(fakedocker.Container{Name: "a"})
	h.d.Exit(a, 0)
	s1.wait(t, 2)
	stop()
	if p, _ := store.saved(); len(p.Seen) != 2 {
		t.Fatalf("saved position %+v: want both events marked", p)
	}

	// While down: what the next watcher must deliver.
	b := h.running(fakedocker.Container{Name: "b"})
	h.d.Start(a)
	h.d.Exit(b, 2)

	s2 := newSink()
	h.start(h.watcher(s2, store))
	recs := s2.wait(t, 3)
	h.d.EmitContainerEvent(a, "kill", map[string]string{"signal": "9"})
	recs = s2.wait(t, 4)
	want := "b docker.container.start, a docker.container.start, b docker.container.die, a docker.container.kill"
	if got := names(recs); got != want {
		t.Fatalf("after the restart:\n  %s\nwant\n  %s", got, want)
	}
	if n := h.counter("dockerlogsrotating_lifecycle_gaps"); n != 0 {
		t.Errorf("%d gaps reported on a resume the daemon's history covered", n)
	}
}

// TestWatcherStoppedBeforeAnyEventResumesFromItsStart: the position starts
// at the daemon's clock when the first watcher starts, so events that
// happen after it stopped, before any event was seen, are delivered by the
// next.
func TestWatcherStoppedBeforeAnyEventResumesFromItsStart(t *testing.T) {
	h := newHarness(t)
	store := &memStore{}
	stop := h.start(h.watcher(newSink(), store))
	stop()
	p, saves := store.saved()
	if p.Since == 0 || saves != 1 {
		t.Fatalf("saved %+v in %d saves: want the daemon's time at start", p, saves)
	}
	h.running(fakedocker.Container{Name: "late"})
	s := newSink()
	h.start(h.watcher(s, store))
	if got := names(s.wait(t, 1)); got != "late docker.container.start" {
		t.Fatalf("records %s", got)
	}
}

// TestWatcherDeliversAnEventStoredOutOfTimeOrder: the daemon stamps an
// event before it appends it to its history, so an event published after
// the last one handled can carry an earlier time. The position's since
// trails the newest event, and such an event is still delivered after a
// restart.
func TestWatcherDeliversAnEventStoredOutOfTimeOrder(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	h := newHarness(t, fakedocker.WithClock(func() time.Time { return time.Unix(0, clock.Load()) }))
	store := &memStore{}
	s1 := newSink()
	stop := h.start(h.watcher(s1, store)) // the position starts now
	clock.Add(int64(5 * time.Second))
	a := h.running(fakedocker.Container{Name: "a", Image: "img:1"})
	first := s1.wait(t, 1)[0]
	stop()
	late := first.Time - int64(300*time.Millisecond)
	h.d.EmitEvent(events.Message{Type: events.ContainerEventType, Action: events.ActionOOM, TimeNano: late, Time: late / 1e9,
		Actor: events.Actor{ID: a, Attributes: map[string]string{"name": "a", "image": "img:1"}}})

	s2 := newSink()
	h.start(h.watcher(s2, store))
	recs := s2.wait(t, 1)
	if len(recs) != 1 || recs[0].EventName != EventOOM || recs[0].Time != late {
		t.Fatalf("after the restart: %v", recs)
	}
}

// TestWatcherResubscribesAfterTheStreamIsCut: a stream cut in the middle
// of an event is opened again from the position; the events it had
// delivered are not delivered again, the one it cut and the later ones are.
func TestWatcherResubscribesAfterTheStreamIsCut(t *testing.T) {
	h := newHarness(t)
	cut := make(chan struct{})
	var mu sync.Mutex
	var queries []string
	h.d.SetEventsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
		mu.Lock()
		queries = append(queries, req.Query.Get("since"))
		k := len(queries)
		mu.Unlock()
		if k > 1 {
			return false
		}
		// The first stream: two events, half of the third, then the end.
		_ = w.WriteRaw(nil)
		select {
		case <-cut:
		case <-w.Context().Done():
			return true
		}
		var out []byte
		for _, m := range h.d.Events()[1:] { // after the create
			b, _ := json.Marshal(m)
			out = append(out, append(b, '\n')...)
		}
		_ = w.WriteRaw(out[:len(out)-20])
		return true
	})
	s := newSink()
	h.start(h.watcher(s, nil))
	a := h.running(fakedocker.Container{Name: "a"})
	h.d.EmitContainerEvent(a, "kill", map[string]string{"signal": "15"})
	h.d.Exit(a, 143)
	close(cut)
	s.wait(t, 2)
	h.waitStreams(1) // the second one
	h.d.Start(a)
	recs := s.wait(t, 4)
	want := "a docker.container.start, a docker.container.kill, a docker.container.die, a docker.container.start"
	if got := names(recs); got != want {
		t.Fatalf("records:\n  %s\nwant\n  %s", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) != 2 || queries[1] == "" {
		t.Fatalf("since of the subscriptions %q: want a second one from the position", queries)
	}
}

// TestWatcherReportsTheGapWhenTheDaemonLostItsHistory: a daemon restart
// ends the stream and forgets every event; the watcher subscribes again,
// reports that events may be lost, and delivers the new ones.
func TestWatcherReportsTheGapWhenTheDaemonLostItsHistory(t *testing.T) {
	h := newHarness(t)
	s := newSink()
	h.start(h.watcher(s, nil))
	a := h.running(fakedocker.Container{Name: "a"})
	s.wait(t, 1)
	// The stream ends; the die is in the new history, replayed to the next
	// subscription or sent to it live.
	h.d.ResetEvents()
	h.d.Exit(a, 0)
	recs := s.wait(t, 2)
	if got := names(recs); got != "a docker.container.start, a docker.container.die" {
		t.Fatalf("records %s", got)
	}
	if n := h.counter("dockerlogsrotating_lifecycle_gaps"); n != 1 {
		t.Fatalf("lifecycle_gaps = %d, want 1", n)
	}
	if n := h.logs.FilterMessageSnippet("may be lost").Len(); n != 1 {
		t.Fatalf("%d warnings of a possible loss, want 1", n)
	}
}

// TestWatcherSkipsAnEventSentTwice: an event published while the daemon
// registers a subscription comes in the replay and live; it is one record.
func TestWatcherSkipsAnEventSentTwice(t *testing.T) {
	h := newHarness(t)
	a := h.running(fakedocker.Container{Name: "a"})
	h.d.Exit(a, 0)
	evs := h.d.Events() // create, start, die
	h.d.SetEventsFault(func(_ fakedocker.Request, w *fakedocker.FaultWriter) bool {
		var out []byte
		for _, m := range []events.Message{evs[1], evs[1], evs[2]} {
			b, _ := json.Marshal(m)
			out = append(out, append(b, '\n')...)
		}
		_ = w.WriteRaw(out)
		w.Hang()
		return true
	})
	s := newSink()
	w := h.watcher(s, nil)
	w.pos = Position{Since: evs[1].TimeNano} // as if resumed from before them
	h.start(w)
	recs := s.wait(t, 2) // the die comes after the copy
	if got := names(recs); got != "a docker.container.start, a docker.container.die" {
		t.Fatalf("records %s", got)
	}
}

// TestWatcherUsesTheEventForAContainerAlreadyRemoved: the daemon no longer
// knows the container (removed with --rm, or long ago when a restarted
// collector resumes): the record's resource and the selection come from
// the event's attributes, labels without the keys the daemon adds.
func TestWatcherUsesTheEventForAContainerAlreadyRemoved(t *testing.T) {
	h := newHarness(t)
	s := newSink()
	w := h.watcher(s, nil)
	var mu sync.Mutex
	var labels []map[string]string
	sel := w.Select
	w.Select = func(c docker.Container) bool {
		mu.Lock()
		labels = append(labels, c.Labels)
		mu.Unlock()
		return sel(c)
	}
	h.start(w)
	const gone = "0000000000000000000000000000000000000000000000000000000000000bad"
	h.d.EmitEvent(events.Message{Type: events.ContainerEventType, Action: events.ActionDie,
		Actor: events.Actor{ID: gone, Attributes: map[string]string{"name": "gone", "image": "img:2", "team": "x", "exitCode": "1", "execDuration": "3"}}})
	h.d.EmitEvent(events.Message{Type: events.ContainerEventType, Action: events.ActionDie,
		Actor: events.Actor{ID: gone, Attributes: map[string]string{"name": "gone-skipped", "image": "img:2", "skip": "1", "exitCode": "1"}}})
	h.d.EmitEvent(events.Message{Type: events.ContainerEventType, Action: events.ActionStart,
		Actor: events.Actor{ID: gone + "0", Attributes: map[string]string{"name": "marker"}}})
	recs := s.wait(t, 2)
	if got := names(recs); got != "gone docker.container.die, marker docker.container.start" {
		t.Fatalf("records %s", got)
	}
	if recs[0].ID != gone || recs[0].Image != "img:2" || recs[0].Attrs[AttrExitCode] != int64(1) {
		t.Fatalf("record of the removed container: %+v", recs[0])
	}
	mu.Lock()
	defer mu.Unlock()
	if got := fmt.Sprint(labels[0]); got != "map[team:x]" {
		t.Fatalf("labels selected on %s, want map[team:x]", got)
	}
}

// TestWatcherRetriesARefusedBatchAndDropsAPermanentlyRejectedOne: refused
// records are retried until accepted, once; permanently rejected ones are
// dropped and counted, and the position moves past them.
func TestWatcherRetriesARefusedBatchAndDropsAPermanentlyRejectedOne(t *testing.T) {
	h := newHarness(t)
	s := newSink()
	dropped := make(chan struct{})
	s.Refuse = func(call int) error {
		switch {
		case call <= 3:
			return errRefused
		case call == 4:
			close(dropped)
			return consumererror.NewPermanent(errRefused)
		}
		return nil
	}
	store := &memStore{}
	stop := h.start(h.watcher(s, store))
	a := h.running(fakedocker.Container{Name: "a"}) // refused 3 times, then dropped
	<-dropped
	h.d.EmitContainerEvent(a, "oom", nil)
	recs := s.wait(t, 1)
	if got := names(recs); got != "a docker.container.oom" {
		t.Fatalf("records %s", got)
	}
	if n := h.counter("dockerlogsrotating_records_dropped"); n != 1 {
		t.Fatalf("records_dropped = %d, want 1", n)
	}
	stop()
	s2 := newSink()
	h.start(h.watcher(s2, store))
	h.d.Exit(a, 0)
	if got := names(s2.wait(t, 1)); got != "a docker.container.die" {
		t.Fatalf("after a restart: %s (the dropped start must not come again)", got)
	}
}

// TestWatcherStoppedWhileTheConsumerRefusesKeepsTheEventForTheNext: a
// watcher stopped while its batch is refused does not add the events to
// the position; the next watcher delivers them.
func TestWatcherStoppedWhileTheConsumerRefusesKeepsTheEventForTheNext(t *testing.T) {
	h := newHarness(t)
	refused := make(chan struct{})
	var once sync.Once
	s1 := newSink()
	s1.Refuse = func(int) error {
		once.Do(func() { close(refused) })
		return errRefused
	}
	store := &memStore{}
	stop := h.start(h.watcher(s1, store))
	h.running(fakedocker.Container{Name: "a"})
	<-refused
	stop()
	s2 := newSink()
	h.start(h.watcher(s2, store))
	if got := names(s2.wait(t, 1)); got != "a docker.container.start" {
		t.Fatalf("records %s", got)
	}
}

// TestWatcherKeepsDeliveringWhenThePositionCannotBeSaved: a store that
// fails costs a warning (once, not per event), not the events.
func TestWatcherKeepsDeliveringWhenThePositionCannotBeSaved(t *testing.T) {
	h := newHarness(t)
	store := &memStore{fail: errRefused}
	s := newSink()
	h.start(h.watcher(s, store))
	a := h.running(fakedocker.Container{Name: "a"})
	h.d.Exit(a, 0)
	h.d.Start(a)
	recs := s.wait(t, 3)
	if got := names(recs); got != "a docker.container.start, a docker.container.die, a docker.container.start" {
		t.Fatalf("records %s", got)
	}
	if n := h.logs.FilterMessageSnippet("cannot save the position").Len(); n != 1 {
		t.Fatalf("%d warnings about saving, want 1", n)
	}
}
