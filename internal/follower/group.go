package follower

import (
	"context"
	"errors"
	"sync"

	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
)

// Group runs one follower per watched container. Discovery tells it which
// containers exist; it is safe for concurrent use.
type Group struct {
	set *Settings
	ctx context.Context
	wg  sync.WaitGroup

	mu        sync.Mutex
	followers map[string]*member
	// unsupported remembers containers whose log cannot be read, so they
	// are reported once and never retried.
	unsupported map[string]bool
	saver       *saver // nil without a store
}

type member struct {
	f    *Follower
	gone chan struct{}
}

// NewGroup returns a group whose followers run until ctx ends.
func NewGroup(ctx context.Context, set *Settings) *Group {
	g := &Group{set: set, ctx: ctx, followers: map[string]*member{}, unsupported: map[string]bool{}}
	if set.Store != nil {
		g.saver = newSaver(set.Store, set.Logger)
		set.commit = g.saver.commit
	}
	return g
}

// Upsert starts following c, or updates a follower that exists. atStartup
// says c was found by the first listing after the receiver started, which
// matters for start_at=end: its earlier lines are history, while a container
// started later is read from the start of its current run.
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
		// One that ran and exited before discovery looked is read now.
		return
	}
	var start Start
	switch {
	case g.set.StartAtBeginning:
	case atStartup:
		start.AtEnd = true
	case !c.StartedAt.IsZero():
		since := c.StartedAt.UnixNano()
		start.Position = cursor.Position{Since: since, MaxTimestamp: since - 1}
	}
	m := &member{f: New(g.set, c, start), gone: make(chan struct{})}
	g.followers[c.ID] = m
	g.set.Telemetry.DockerlogsrotatingContainersWatched.Add(g.ctx, 1)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := m.f.Run(g.ctx, m.gone)
		g.mu.Lock()
		if g.followers[c.ID] == m {
			delete(g.followers, c.ID)
		}
		if errors.Is(err, ErrUnsupported) {
			g.unsupported[c.ID] = true
		}
		g.mu.Unlock()
		if errors.Is(err, ErrUnsupported) {
			g.set.Telemetry.DockerlogsrotatingContainersUnsupported.Add(context.WithoutCancel(g.ctx), 1)
			g.set.Logger.Warn("not collecting this container: its logging driver cannot be read back through the Docker API (use json-file, local or journald, or enable dual logging)",
				zap.String("container", c.Name), zap.String("container.id", c.ID), zap.String("log_driver", c.LogDriver))
		}
		g.set.Telemetry.DockerlogsrotatingContainersWatched.Add(context.WithoutCancel(g.ctx), -1)
	}()
}

// Remove tells the follower of id that the container is gone. A stream
// still open is read to its end first.
func (g *Group) Remove(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m, ok := g.followers[id]; ok {
		close(m.gone)
		delete(g.followers, id)
	}
	delete(g.unsupported, id)
	if g.saver != nil {
		g.saver.remove(id)
	}
}

// IDs lists the containers being followed.
func (g *Group) IDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := make([]string, 0, len(g.followers))
	for id := range g.followers {
		ids = append(ids, id)
	}
	return ids
}

// Wait blocks until every follower has returned (after ctx ended), then
// saves the last positions.
func (g *Group) Wait() {
	g.wg.Wait()
	if g.saver != nil {
		g.saver.close()
	}
}
