package follower

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/checkpoint"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
)

// Group runs one follower per container with lines to read. Discovery tells
// it which containers exist; it is safe for concurrent use.
//
// A container whose run was read to its end while it was stopped has no
// follower: only its entry (position and the start of that run) is kept, in
// memory and with a store in the store, until it starts again or is removed.
type Group struct {
	set *Settings
	ctx context.Context
	wg  sync.WaitGroup

	mu        sync.Mutex
	followers map[string]*member
	parked    map[string]checkpoint.Entry
	// unsupported remembers containers whose log cannot be read, so they
	// are reported once and never retried.
	unsupported map[string]bool
}

type member struct {
	f    *Follower
	gone chan struct{}
}

// NewGroup returns a group whose followers run until ctx ends.
func NewGroup(ctx context.Context, set *Settings) *Group {
	return &Group{set: set, ctx: ctx, followers: map[string]*member{}, parked: map[string]checkpoint.Entry{}, unsupported: map[string]bool{}}
}

// Upsert starts following c when it has lines to read, or updates its
// follower. atStartup says c was found by the first listing after the
// receiver started: without a saved position, start_at decides what of its
// earlier lines is history, while a container seen starting later is read
// from the start of its current run.
func (g *Group) Upsert(c docker.Container, atStartup bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx.Err() != nil {
		return
	}
	if m, ok := g.followers[c.ID]; ok {
		m.f.Update(c)
		return
	}
	if g.unsupported[c.ID] || (!c.Running && c.StartedAt.IsZero()) {
		// Never if unreadable; a container that never ran once it starts.
		return
	}
	e, known := g.parked[c.ID]
	if !known {
		e, known = g.load(c.ID)
	}
	start := Start{Position: e.Position, RunRead: e.RunRead}
	if !known {
		var read bool
		start, read = g.firstStart(c, atStartup)
		if !read {
			g.park(c.ID, checkpoint.Entry{Position: start.Position, RunRead: start.RunRead})
			return
		}
	} else if !c.Running && !ranAfter(c, e.RunRead) {
		g.parked[c.ID] = e
		return
	}
	delete(g.parked, c.ID)
	g.spawn(c, start)
}

// firstStart decides where a container without a position starts, and
// whether it has lines to read at all.
func (g *Group) firstStart(c docker.Container, atStartup bool) (Start, bool) {
	runStart := func() Start { return Start{Position: runStartPosition(c)} }
	switch {
	case g.set.StartAtBeginning:
		return Start{}, true
	case !atStartup:
		// Seen starting (or having run) while the receiver ran.
		return runStart(), true
	case g.set.Store != nil && startedWhileDown(c, g.set.Store.LastWrite()):
		return runStart(), true
	case c.Running:
		return Start{AtEnd: true}, true
	}
	// Stopped before the receiver started, with start_at end: its runs so
	// far are history. What a later run writes is stamped after this one
	// finished.
	end := max(c.FinishedAt.UnixNano(), c.StartedAt.UnixNano())
	return Start{Position: cursor.Position{Since: end + 1, MaxTimestamp: end}, RunRead: c.StartedAt.UnixNano()}, false
}

// runStartPosition is where c's current (or last) run begins in its log.
// StartedAt cannot say: the daemon sets it after the process started, and
// the first lines can be stamped before it. A container that never
// finished a run has only this one in its log; a running one's FinishedAt
// ends the run before. A stopped one's FinishedAt ends this very run, and
// the run before ended before it started: a second of slack covers the
// first lines (at the cost of re-reading the end of a run that stopped less
// than a second before this one started).
func runStartPosition(c docker.Container) cursor.Position {
	var since int64
	switch {
	case c.FinishedAt.IsZero():
		return cursor.Position{}
	case c.Running:
		since = c.FinishedAt.UnixNano() + 1
	default:
		since = c.StartedAt.Add(-time.Second).UnixNano()
	}
	return cursor.Position{Since: since, MaxTimestamp: since - 1}
}

// startedWhileDown reports whether c's current run started after the
// previous collector last wrote to the store (a second of slack: the store
// keeps whole seconds). Such a run may have exited meanwhile; it is read from
// its start, whatever start_at says.
func startedWhileDown(c docker.Container, lastWrite time.Time) bool {
	return !lastWrite.IsZero() && !c.StartedAt.Before(lastWrite.Add(-time.Second))
}

// ranAfter reports whether c started a run after the one read to its end.
func ranAfter(c docker.Container, runRead int64) bool {
	return !c.StartedAt.IsZero() && c.StartedAt.UnixNano() > runRead
}

// load reads a container's saved entry, if there is a store.
func (g *Group) load(id string) (checkpoint.Entry, bool) {
	if g.set.Store == nil || !g.set.Store.Has(id) {
		return checkpoint.Entry{}, false
	}
	ctx, cancel := context.WithTimeout(g.ctx, 10*time.Second)
	defer cancel()
	e, ok, err := g.set.Store.Load(ctx, id)
	if err != nil {
		g.set.Logger.Warn("cannot read saved position; using start_at", zap.String("container.id", id), zap.Error(err))
		return checkpoint.Entry{}, false
	}
	return e, ok
}

// park keeps e as the container's entry, without a follower.
func (g *Group) park(id string, e checkpoint.Entry) {
	g.parked[id] = e
	if g.set.Positions != nil {
		g.set.Positions.Commit(id, e)
	}
}

// spawn starts a follower for c; g.mu is held.
func (g *Group) spawn(c docker.Container, start Start) {
	m := &member{f: New(g.set, c, start), gone: make(chan struct{})}
	g.followers[c.ID] = m
	g.set.Telemetry.DockerlogsrotatingContainersWatched.Add(g.ctx, 1)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := m.f.Run(g.ctx, m.gone)
		g.set.Telemetry.DockerlogsrotatingContainersWatched.Add(context.WithoutCancel(g.ctx), -1)
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.followers[c.ID] != m {
			return // removed
		}
		delete(g.followers, c.ID)
		switch {
		case errors.Is(err, errRunRead):
			e := m.f.entry()
			latest := *m.f.info.Load()
			if g.ctx.Err() == nil && (latest.Running || ranAfter(latest, e.RunRead)) {
				// It started again while the follower was finishing.
				g.spawn(latest, Start{Position: e.Position, RunRead: e.RunRead})
				return
			}
			// Saved with RunRead: a restarted collector then knows this
			// run is read and opens no stream for it.
			g.park(c.ID, e)
		case errors.Is(err, ErrUnsupported):
			g.unsupported[c.ID] = true
			g.set.Telemetry.DockerlogsrotatingContainersUnsupported.Add(context.WithoutCancel(g.ctx), 1)
			g.set.Logger.Warn("not collecting this container: its logging driver cannot be read back through the Docker API (use json-file, local or journald, or enable dual logging)",
				zap.String("container", c.Name), zap.String("container.id", c.ID), zap.String("log_driver", c.LogDriver))
		}
	}()
}

// Remove tells the follower of id that the container is gone, and forgets
// its entry. A stream still open is read to its end first.
func (g *Group) Remove(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m, ok := g.followers[id]; ok {
		close(m.gone)
		delete(g.followers, id)
	}
	delete(g.parked, id)
	delete(g.unsupported, id)
	if g.set.Positions != nil {
		g.set.Positions.Remove(id)
	}
}

// IDs lists the containers the group knows: followed or parked.
func (g *Group) IDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := make([]string, 0, len(g.followers)+len(g.parked))
	for id := range g.followers {
		ids = append(ids, id)
	}
	for id := range g.parked {
		ids = append(ids, id)
	}
	return ids
}

// Followed reports whether id has a follower, and the container's name as
// that follower knows it.
func (g *Group) Followed(id string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, ok := g.followers[id]
	if !ok {
		return "", false
	}
	return m.f.info.Load().Name, true
}

// Listed takes a complete listing: saved entries of containers that exist
// count as seen now, however long they were quiet; those of containers that
// are gone are deleted.
func (g *Group) Listed(exists, selected func(id string) bool) {
	if g.set.Store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(g.ctx, 10*time.Second)
	defer cancel()
	if err := g.set.Store.Reconcile(ctx, exists, selected); err != nil && g.ctx.Err() == nil {
		g.set.Logger.Warn("cannot update the position index", zap.Error(err))
	}
}

// Wait blocks until every follower has returned (after ctx ended): from
// then on nothing commits to Settings.Positions.
func (g *Group) Wait() {
	g.wg.Wait()
}
