// Package lifecycle turns the Docker daemon's container events (start, die,
// oom, kill, health_status, restart) into log records of the selected
// containers, and resumes the event stream after a reconnect or a collector
// restart without repeating or skipping an event the daemon still holds.
//
// The daemon keeps its last 256 events in memory and replays those at or
// after a since time. The watcher's Position is that since, trailing the
// newest event handled by a second (the daemon can store events a little
// out of timestamp order), plus a key of every event handled at or after
// it; a resumed stream skips the events it already handled.
package lifecycle // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/lifecycle"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
)

const (
	// maxBatch caps the events handed on in one ConsumeLogs call: those
	// the stream already holds when one arrives.
	maxBatch = 256
	// maxCache bounds the containers kept; past it the cache starts over.
	maxCache = 4096
	// saveTimeout bounds one write of the position.
	saveTimeout = 10 * time.Second
)

// Store keeps the position across collector restarts.
type Store interface {
	LoadLifecycle(ctx context.Context) (Position, bool, error)
	SaveLifecycle(ctx context.Context, p Position) error
}

// Watcher follows one daemon's container events and hands the records of
// the selected containers to the consumer. Set the fields, then call Run
// once.
type Watcher struct {
	API       docker.API
	Consumer  consumer.Logs
	ObsReport *receiverhelper.ObsReport
	Telemetry *metadata.TelemetryBuilder
	Logger    *zap.Logger
	// Select reports whether a container's events are wanted (include,
	// exclude, exclude_self).
	Select func(docker.Container) bool
	// Resource builds a container's resource, as for its log records.
	Resource func(docker.Container) pcommon.Resource

	ScopeName, ScopeVersion string

	// Timeout bounds each short request (info, inspect) and the wait for
	// the event stream's response headers.
	Timeout time.Duration
	// Backoff spaces resubscriptions and retries of a refused batch.
	Backoff backoff.Policy
	// Deliver is the context records are handed to the consumer with; the
	// receiver cancels it when shutdown can wait no longer. A batch it cuts
	// is not added to the position. nil: delivery is never cut.
	Deliver context.Context
	// Store, when set, keeps the position across collector restarts.
	Store Store
	// Ready, when set, is waited for before the first subscription (the
	// receiver closes it once it knows the engine, whose version and host
	// the resource carries).
	Ready <-chan struct{}

	pos         Position
	cache       map[string]docker.Container
	saveFailing bool
}

// Run follows events until ctx ends, resubscribing with capped backoff
// whenever the stream ends.
func (w *Watcher) Run(ctx context.Context) {
	if w.Ready != nil {
		select {
		case <-w.Ready:
		case <-ctx.Done():
			return
		}
	}
	w.cache = map[string]docker.Container{}
	w.load(ctx)
	var wait time.Duration
	failing := false
	for ctx.Err() == nil {
		handled, err := w.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if handled {
			wait, failing = 0, false
		}
		wait = w.Backoff.Next(wait)
		if !failing {
			// Once per outage: discovery reports the daemon's state.
			w.Logger.Warn("container lifecycle events: the event stream ended; subscribing again from the last event handled", zap.Duration("backoff", wait), zap.Error(err))
		}
		failing = true
		if !backoff.Sleep(ctx, wait) {
			return
		}
	}
}

// session subscribes from the position and handles events until the
// stream ends; it reports whether any event was handled.
func (w *Watcher) session(ctx context.Context) (bool, error) {
	if w.pos.Since == 0 {
		if err := w.begin(ctx); err != nil {
			return false, err
		}
	}
	ectx, stop := context.WithCancel(ctx)
	defer stop()
	opts := client.EventsListOptions{
		Since:   docker.Since(w.pos.Since),
		Filters: make(client.Filters).Add("type", string(events.ContainerEventType)).Add("event", actions...),
	}
	ev, err := docker.SubscribeEvents(ectx, stop, w.API, opts, w.Timeout)
	if err != nil {
		return false, err
	}
	handled, first := false, true
	for {
		select {
		case <-ctx.Done():
			return handled, nil
		case err := <-ev.Err:
			if err == nil {
				err = io.EOF // the client closed the channel after its error
			}
			return handled, fmt.Errorf("read Docker events: %w", err)
		case m := <-ev.Messages:
			batch := drain(m, ev.Messages)
			if first {
				first = false
				w.checkResumed(ctx, batch[0])
			}
			if err := w.handle(ctx, batch); err != nil {
				return handled, err
			}
			handled = true
		}
	}
}

// begin starts a position at the daemon's clock now, so that the first
// subscription replays what happens from here on even before the stream is
// open, and a collector restarted before any event came resumes from here.
func (w *Watcher) begin(ctx context.Context) error {
	ictx, cancel := context.WithTimeout(ctx, w.Timeout)
	res, err := w.API.Info(ictx, client.InfoOptions{})
	cancel()
	if err != nil {
		return fmt.Errorf("read the daemon's clock (GET /info): %w", err)
	}
	now, err := time.Parse(time.RFC3339Nano, res.Info.SystemTime)
	if err != nil {
		return fmt.Errorf("read the daemon's clock: SystemTime %q: %w", res.Info.SystemTime, err)
	}
	w.pos = Position{Since: now.UnixNano()}
	w.save(ctx)
	return nil
}

// checkResumed looks at the first event of a resumed stream: it is one
// already handled whenever the daemon still holds the last events handled
// (they are at or after since). If not, the daemon lost them (its history
// overflowed, or it restarted), and events between may be lost.
func (w *Watcher) checkResumed(ctx context.Context, m events.Message) {
	if len(w.pos.Seen) == 0 || w.pos.Has(m) {
		return
	}
	newest := w.pos.Seen[len(w.pos.Seen)-1].Time
	w.Telemetry.DockerlogsrotatingLifecycleGaps.Add(context.WithoutCancel(ctx), 1)
	w.Logger.Warn("container lifecycle events may be lost: the Docker daemon no longer holds the last event handled (it keeps its last 256 events, and none across its own restart)",
		zap.Time("last_handled", time.Unix(0, newest)), zap.Time("first_received", time.Unix(0, m.TimeNano)))
}

// handle hands the records of a batch's new events to the consumer, then
// adds the events to the position and saves it. It fails only when ctx or
// Deliver ended before the consumer accepted the records.
func (w *Watcher) handle(ctx context.Context, batch []events.Message) error {
	ld := plog.NewLogs()
	observed := pcommon.NewTimestampFromTime(time.Now())
	counts := map[string]int64{}
	var fresh []events.Message
	inBatch := map[Mark]bool{}
	for _, m := range batch {
		mk := Mark{Time: m.TimeNano, Key: key(m)}
		if w.pos.Has(m) || inBatch[mk] {
			// Sent again: replayed by a resumed stream, or published while
			// the daemon registered the subscription (it then comes both in
			// the replay and live).
			continue
		}
		inBatch[mk] = true
		fresh = append(fresh, m)
		name, emit := eventName(m.Action)
		c := w.container(ctx, m, !emit)
		switch m.Action {
		case events.ActionDestroy, events.ActionRename:
			delete(w.cache, m.Actor.ID)
		}
		if !emit || !w.Select(c) {
			continue
		}
		rl := ld.ResourceLogs().AppendEmpty()
		w.Resource(c).MoveTo(rl.Resource())
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName(w.ScopeName)
		sl.Scope().SetVersion(w.ScopeVersion)
		fill(sl.LogRecords().AppendEmpty(), m, name, displayName(c), observed)
		counts[name]++
	}
	if ctx.Err() != nil {
		// Stopping: inspects may have been cut short. The events are not
		// handled; a resumed stream sends them again.
		return ctx.Err()
	}
	if n := ld.LogRecordCount(); n > 0 {
		if err := w.deliver(ctx, ld, n); err != nil {
			return err
		}
		bg := context.WithoutCancel(ctx)
		for name, k := range counts {
			w.Telemetry.DockerlogsrotatingLifecycleEvents.Add(bg, k, metric.WithAttributeSet(attribute.NewSet(attribute.String("event.name", name))))
		}
	}
	for _, m := range fresh {
		w.pos.Add(m)
	}
	if len(fresh) > 0 {
		w.save(ctx)
	}
	return nil
}

// container is the container of event m: from the cache, else inspected
// (and cached), else, for a container the daemon no longer has, what the
// event itself tells. With actorOnly (events that become no record) the
// daemon is not asked.
func (w *Watcher) container(ctx context.Context, m events.Message, actorOnly bool) docker.Container {
	id := m.Actor.ID
	if c, ok := w.cache[id]; ok || actorOnly {
		if !ok {
			c = fromActor(m)
		}
		return c
	}
	ictx, cancel := context.WithTimeout(ctx, w.Timeout)
	res, err := w.API.ContainerInspect(ictx, id, client.ContainerInspectOptions{})
	cancel()
	if err != nil {
		if !cerrdefs.IsNotFound(err) && !errors.Is(err, context.Canceled) {
			w.Logger.Debug("inspect container of a lifecycle event; using the event's attributes", zap.String("container.id", id), zap.Error(err))
		}
		return fromActor(m)
	}
	c := docker.ContainerFromInspect(res.Container)
	if len(w.cache) >= maxCache {
		clear(w.cache)
	}
	w.cache[id] = c
	return c
}

// fromActor is what an event tells of its container: ID, name, image and
// labels (the actor's attributes, but for those the daemon adds to events,
// which win over labels of the same key).
func fromActor(m events.Message) docker.Container {
	a := m.Actor.Attributes
	labels := make(map[string]string, len(a))
	for k, v := range a {
		switch k {
		case "name", "image", "exitCode", "execDuration", "signal", "oldName":
			continue
		}
		labels[k] = v
	}
	return docker.Container{ID: m.Actor.ID, Name: a["name"], Image: a["image"], Labels: labels}
}

// displayName names a container in a record's body.
func displayName(c docker.Container) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID[:min(len(c.ID), 12)]
}

// deliver hands ld to the consumer, retrying refusals with backoff until
// ctx ends. A permanent error drops the records (counted and logged): the
// events count as handled.
func (w *Watcher) deliver(ctx context.Context, ld plog.Logs, n int) error {
	deliver := w.Deliver
	if deliver == nil {
		deliver = context.WithoutCancel(ctx)
	}
	var wait time.Duration
	for {
		octx := w.ObsReport.StartLogsOp(deliver)
		err := w.Consumer.ConsumeLogs(octx, ld)
		w.ObsReport.EndLogsOp(octx, "docker", n, err)
		switch {
		case err == nil:
			return nil
		case deliver.Err() != nil:
			return deliver.Err()
		case consumererror.IsPermanent(err):
			bg := context.WithoutCancel(ctx)
			w.Telemetry.DockerlogsrotatingRecordsDropped.Add(bg, int64(n))
			w.Telemetry.DockerlogsrotatingStreamErrors.Add(bg, 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("error.type", "consumer"))))
			w.Logger.Error("next consumer rejected container lifecycle records permanently; dropped them", zap.Int("records", n), zap.Error(err))
			return nil
		}
		wait = w.Backoff.Next(wait)
		if !backoff.Sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// load reads the saved position, if there is a store.
func (w *Watcher) load(ctx context.Context) {
	if w.Store == nil {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, saveTimeout)
	defer cancel()
	p, ok, err := w.Store.LoadLifecycle(lctx)
	if err != nil {
		w.Logger.Warn("cannot read the saved position of container lifecycle events; starting from now", zap.Error(err))
		return
	}
	if ok {
		w.pos = p
	}
}

// save writes the position, if there is a store. A failed write is logged
// once until one succeeds; the next handled event writes it again.
func (w *Watcher) save(ctx context.Context) {
	if w.Store == nil {
		return
	}
	// Not cut by ctx: the last write may happen as the receiver stops.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := w.Store.SaveLifecycle(sctx, w.pos); err != nil {
		if !w.saveFailing {
			w.Logger.Warn("cannot save the position of container lifecycle events; retrying with the next event", zap.Error(err))
		}
		w.saveFailing = true
		return
	}
	w.saveFailing = false
}

// drain returns first and the events the stream holds right behind it.
func drain(first events.Message, ch <-chan events.Message) []events.Message {
	batch := []events.Message{first}
	for len(batch) < maxBatch {
		select {
		case m := <-ch:
			batch = append(batch, m)
		default:
			return batch
		}
	}
	return batch
}
