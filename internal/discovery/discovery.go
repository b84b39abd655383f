// Package discovery finds the containers to follow: an initial listing, the
// event stream for starts, renames and removals, and a periodic listing that
// catches whatever the event stream missed (it only replays 256 events, and
// nothing across a daemon restart).
package discovery // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/discovery"

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/match"
)

// Handler receives what discovery finds.
type Handler interface {
	// Upsert reports a selected container, running or not. atStartup is
	// true for containers of the first listing after Run started.
	Upsert(c docker.Container, atStartup bool)
	// Remove reports that a container no longer exists.
	Remove(id string)
	// IDs lists the containers the handler knows, followed or not.
	IDs() []string
	// Followed reports whether a container's log is being read now, and
	// the container's name as the follower knows it.
	Followed(id string) (name string, ok bool)
	// Listed reports a complete listing: which containers exist, and which
	// of them are selected.
	Listed(exists, selected func(id string) bool)
}

// Discovery watches one daemon.
type Discovery struct {
	API     docker.API
	Matcher *match.Matcher
	// Self holds IDs of the container the collector runs in, if any.
	Self    SelfID
	Handler Handler
	Logger  *zap.Logger
	// Resync is the period of the reconciling listing.
	Resync time.Duration
	// Timeout bounds each list or inspect request.
	Timeout time.Duration
	// Backoff spaces reconnect attempts.
	Backoff backoff.Policy
	// Connected is called with the engine after every successful
	// (re)connection, before any container is reported.
	Connected func(docker.Engine)
	// Status is called with nil when the daemon is reachable and with the
	// error while it is not.
	Status func(err error)
	// Failed counts connection failures (error.type=connect).
	Failed func()
	// InspectStopped makes the first listing inspect the selected
	// containers that are not running too (they may hold lines to read: a
	// saved position, start_at beginning). Otherwise the listing alone
	// tells they are not running, and they cost nothing until they start.
	InspectStopped bool

	lastEvent int64 // TimeNano of the newest event handled
	listed    bool  // the first listing is done
}

// Run watches until ctx ends, reconnecting with capped backoff forever.
func (d *Discovery) Run(ctx context.Context) {
	var wait time.Duration
	for ctx.Err() == nil {
		err := d.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			d.Status(err)
			d.Failed()
			wait = d.Backoff.Next(wait)
			d.Logger.Warn("Docker daemon unreachable, retrying", zap.Duration("backoff", wait), zap.Error(err))
		} else {
			wait = 0
		}
		if !backoff.Sleep(ctx, wait) {
			return
		}
	}
}

// session connects, lists and follows events until the event stream fails.
func (d *Discovery) session(ctx context.Context) error {
	vctx, cancel := context.WithTimeout(ctx, d.Timeout)
	v, err := d.API.ServerVersion(vctx, client.ServerVersionOptions{})
	cancel()
	if err != nil {
		return fmt.Errorf("connect to Docker daemon: %w", err)
	}
	d.Connected(docker.EngineOf(v))

	// Subscribe before listing so that nothing happening in between is
	// missed; what the listing already covers is merely seen twice. (The
	// daemon answers with headers a moment before it registers the
	// subscriber; an event in that moment waits for the next resync.)
	ectx, stop := context.WithCancel(ctx)
	defer stop()
	opts := client.EventsListOptions{Filters: make(client.Filters).
		Add("type", "container").
		Add("event", "start", "die", "destroy", "rename")}
	if d.lastEvent > 0 {
		opts.Since = docker.Since(d.lastEvent)
	}
	ev, err := docker.SubscribeEvents(ectx, stop, d.API, opts, d.Timeout)
	if err != nil {
		return err
	}
	if err := d.resync(ctx); err != nil {
		return err
	}
	d.Status(nil)

	tick := time.NewTicker(d.Resync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-ev.Err:
			if err == nil || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read Docker events: %w", err)
		case m := <-ev.Messages:
			d.event(ctx, m)
		case <-tick.C:
			if err := d.resync(ctx); err != nil {
				return err
			}
		}
	}
}

// event handles one container event.
func (d *Discovery) event(ctx context.Context, m events.Message) {
	d.lastEvent = max(d.lastEvent, m.TimeNano)
	id := m.Actor.ID
	switch m.Action {
	case events.ActionDestroy:
		d.Handler.Remove(id)
	default: // start, die, rename: the inspected state says what changed
		d.inspect(ctx, id, false)
	}
}

// resync lists every container and reconciles the handler with the list.
// Only containers whose state the handler cannot know are inspected: a
// running one it does not follow (a start event was missed, or this is the
// first listing), a stopped one it still follows, and at the first listing
// stopped ones when InspectStopped says so.
func (d *Discovery) resync(ctx context.Context) error {
	began := time.Now()
	lctx, cancel := context.WithTimeout(ctx, d.Timeout)
	list, err := d.API.ContainerList(lctx, client.ContainerListOptions{All: true})
	cancel()
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	atStartup := !d.listed
	exists := make(map[string]bool, len(list.Items))
	selected := make(map[string]bool, len(list.Items))
	inspected := 0
	for _, s := range list.Items {
		exists[s.ID] = true
		running := s.State == container.StateRunning
		name, following := d.Handler.Followed(s.ID)
		switch {
		case following:
			selected[s.ID] = true
			if !running || name != summaryCandidate(s).Name {
				// It stopped, or a rename event was missed: tell its
				// follower.
				inspected++
				d.inspect(ctx, s.ID, false)
			}
		case !d.Matcher.Match(summaryCandidate(s)):
			// The inspect below matches again on the full information.
		case running:
			inspected++
			selected[s.ID] = d.inspect(ctx, s.ID, atStartup)
		case atStartup && d.InspectStopped && s.State != container.StateCreated:
			inspected++
			selected[s.ID] = d.inspect(ctx, s.ID, true)
		default:
			selected[s.ID] = !d.Self.IsID(s.ID)
		}
	}
	for _, id := range d.Handler.IDs() {
		if !exists[id] {
			d.Handler.Remove(id)
		}
	}
	d.Handler.Listed(func(id string) bool { return exists[id] }, func(id string) bool { return selected[id] })
	if atStartup {
		n := 0
		for _, ok := range selected {
			if ok {
				n++
			}
		}
		d.Logger.Info("first container listing reconciled",
			zap.Int("containers", len(list.Items)), zap.Int("selected", n),
			zap.Int("inspected", inspected), zap.Duration("duration", time.Since(began)))
	}
	d.listed = true
	return nil
}

// summaryCandidate is what the listing says of a container, for a first
// match without inspecting it.
func summaryCandidate(s container.Summary) match.Candidate {
	name := ""
	if len(s.Names) > 0 {
		name = strings.TrimPrefix(s.Names[0], "/")
	}
	return match.Candidate{Name: name, Image: s.Image, Labels: s.Labels}
}

// inspect reads one container and reports it if selected; it reports
// whether it was.
func (d *Discovery) inspect(ctx context.Context, id string, atStartup bool) bool {
	ictx, cancel := context.WithTimeout(ctx, d.Timeout)
	res, err := d.API.ContainerInspect(ictx, id, client.ContainerInspectOptions{})
	cancel()
	if cerrdefs.IsNotFound(err) {
		d.Handler.Remove(id)
		return false
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			d.Logger.Debug("inspect container", zap.String("container.id", id), zap.Error(err))
		}
		_, following := d.Handler.Followed(id)
		return following
	}
	c := docker.ContainerFromInspect(res.Container)
	if d.Self.Is(c) || !d.Matcher.Match(match.Candidate{Name: c.Name, Image: c.Image, Labels: c.Labels}) {
		return false
	}
	d.Handler.Upsert(c, atStartup)
	return true
}
