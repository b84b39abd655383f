package fakedocker

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
)

// Events returns a copy of every event emitted so far.
func (d *Daemon) Events() []events.Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]events.Message, len(d.events))
	for i, e := range d.events {
		e.Actor.Attributes = maps.Clone(e.Actor.Attributes)
		out[i] = e
	}
	return out
}

// EmitEvent appends an arbitrary event (e.g. a non-container one, or a
// container action the helpers do not produce). Zero Time/TimeNano are
// stamped by the daemon clock; Scope defaults to "local".
func (d *Daemon) EmitEvent(m events.Message) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m.Actor.Attributes = maps.Clone(m.Actor.Attributes)
	d.appendEventLocked(m)
}

// emitLocked records a container event: Actor.Attributes hold the labels
// plus name and image (and extra), like the daemon's LogContainerEvent.
func (d *Daemon) emitLocked(action events.Action, k *ctr, extra map[string]string) {
	attrs := maps.Clone(k.c.Labels)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["name"] = k.c.Name
	attrs["image"] = k.c.Image
	maps.Copy(attrs, extra)
	d.appendEventLocked(events.Message{
		Type:   events.ContainerEventType,
		Action: action,
		Actor:  events.Actor{ID: k.c.ID, Attributes: attrs},
	})
}

func (d *Daemon) appendEventLocked(m events.Message) {
	if m.TimeNano == 0 && m.Time == 0 {
		t := d.now()
		if !t.After(d.lastEvent) { // strictly increasing, so since=TimeNano is exact
			t = d.lastEvent.Add(time.Nanosecond)
		}
		d.lastEvent = t
		m.Time, m.TimeNano = t.Unix(), t.UnixNano()
	}
	if m.Scope == "" {
		m.Scope = "local"
	}
	d.events = append(d.events, m)
	close(d.eventsCh)
	d.eventsCh = make(chan struct{})
}

func (d *Daemon) handleEvents(w http.ResponseWriter, r *http.Request, req Request) {
	d.mu.Lock()
	hook := d.eventsFault
	d.mu.Unlock()
	if hook != nil {
		fw := d.newFaultWriter(w, r, req, faultEvents, func(w http.ResponseWriter) { d.serveEvents(r.Context(), w, req) })
		defer fw.finish()
		if hook(req, fw) {
			return
		}
	}
	d.serveEvents(r.Context(), w, req)
}

type eventFilter map[string][]string

func (f eventFilter) match(m events.Message) bool {
	attrs := m.Actor.Attributes
	if !matchAny(f, "type", func(v string) bool { return v == string(m.Type) }) ||
		!matchAny(f, "event", f.actionMatcher(m.Action)) ||
		!matchAny(f, "container", func(v string) bool {
			return m.Type == events.ContainerEventType && (strings.HasPrefix(m.Actor.ID, v) || attrs["name"] == v)
		}) ||
		!matchAny(f, "image", func(v string) bool { return attrs["image"] == v }) ||
		!matchAny(f, "scope", func(v string) bool { return v == m.Scope }) {
		return false
	}
	for _, v := range f["label"] {
		if !matchLabel(attrs)(v) {
			return false
		}
	}
	return true
}

// actionMatcher compares event filter values with an action like the
// daemon: exactly, except that a filter naming health_status, exec_create
// or exec_start (whose actions carry a suffix, "health_status: healthy")
// makes every value match as a prefix (moby#25798).
func (f eventFilter) actionMatcher(action events.Action) func(v string) bool {
	for _, v := range f["event"] {
		switch v {
		case "health_status", "exec_create", "exec_start":
			return func(v string) bool { return strings.HasPrefix(string(action), v) }
		}
	}
	return func(v string) bool { return v == string(action) }
}

// ResetEvents does to the event history what a daemon restart does: the
// events emitted so far are forgotten (since replays none of them), and
// every open /events response ends (the client sees a clean end of body,
// as when the daemon shuts down its server).
func (d *Daemon) ResetEvents() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events = nil
	close(d.evReset)
	d.evReset = make(chan struct{})
	close(d.eventsCh)
	d.eventsCh = make(chan struct{})
}

func (d *Daemon) serveEvents(ctx context.Context, w http.ResponseWriter, req Request) {
	q := req.Query
	f, err := parseFilters(q.Get("filters"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid filter: "+err.Error())
		return
	}
	var since, until time.Time
	hasSince, hasUntil := q.Get("since") != "", q.Get("until") != ""
	if hasSince {
		if since, err = parseTimestamp(q.Get("since")); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if hasUntil {
		if until, err = parseTimestamp(q.Get("until")); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	ef := eventFilter(f)

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if flush(w) != nil {
		return
	}

	d.mu.Lock()
	idx := len(d.events)
	reset := d.evReset
	var replay []events.Message
	if hasSince { // replay from the ring of the last 256 events, since inclusive
		for _, m := range d.events[max(0, idx-eventsReplayLimit):idx] {
			if m.TimeNano >= since.UnixNano() {
				replay = append(replay, m)
			}
		}
	}
	d.addStreamLocked(&d.evStreams, 1)
	d.mu.Unlock()
	defer d.addStream(&d.evStreams, -1)

	enc := json.NewEncoder(w) // one JSON document + '\n' per event
	send := func(ms []events.Message) bool {
		for _, m := range ms {
			if hasUntil && m.TimeNano > until.UnixNano() {
				return false
			}
			if !ef.match(m) {
				continue
			}
			if enc.Encode(m) != nil || flush(w) != nil {
				return false
			}
		}
		return true
	}
	if !send(replay) {
		return
	}
	var untilC <-chan time.Time
	if hasUntil {
		left := until.Sub(d.now())
		if left <= 0 {
			return
		}
		timer := time.NewTimer(left)
		defer timer.Stop()
		untilC = timer.C
	}
	for {
		d.mu.Lock()
		select {
		case <-reset: // the history this stream indexes is gone
			d.mu.Unlock()
			return
		default:
		}
		batch := d.events[idx:]
		idx = len(d.events)
		notify := d.eventsCh
		d.mu.Unlock()
		if !send(batch) {
			return
		}
		select {
		case <-notify:
		case <-reset:
			return
		case <-untilC:
			return
		case <-ctx.Done():
			return
		}
	}
}
