package follower

import (
	"context"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/multiline"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/pool"
)

// Run follows the container until ctx ends, the container is gone, or it is
// stopped and its run was read to its end (errRunRead). It returns
// ErrUnsupported when the log cannot be read at all.
func (f *Follower) Run(ctx context.Context, gone <-chan struct{}) error {
	tel := f.set.Telemetry
	var slot *pool.Slot
	release := func() {
		if slot != nil {
			slot.Release()
			slot = nil
			f.recordUtilization(ctx)
		}
	}
	defer release()

	var wait time.Duration // backoff before the next open
	for f.tracker == nil {
		// Decided before queueing for a slot, so "end" means now, not
		// whenever a slot frees up.
		p, err := f.startPosition(ctx)
		if err == nil {
			f.tracker = cursor.NewTracker(f.set.Mode(), p)
			// Saved at once: a collector restarted before this container
			// logs anything resumes here, not at start_at.
			f.commit(p)
			break
		}
		if cerrdefs.IsNotImplemented(err) {
			return ErrUnsupported
		}
		if cerrdefs.IsNotFound(err) {
			return nil
		}
		wait = f.set.Backoff.Next(wait)
		if !backoff.Sleep(ctx, wait) {
			return nil
		}
	}
	wait = 0
	for ctx.Err() == nil {
		c := f.info.Load()
		if !c.Running && !c.StartedAt.After(f.readRun) {
			return errRunRead
		}
		select {
		case <-gone:
			return nil
		default:
		}
		if wait > 0 {
			release()
			if !backoff.Sleep(ctx, wait) {
				return nil
			}
		}
		if slot == nil {
			tel.DockerlogsrotatingContainersWaiting.Add(ctx, 1)
			s, waited, err := f.set.Pool.Acquire(ctx)
			tel.DockerlogsrotatingContainersWaiting.Add(context.WithoutCancel(ctx), -1)
			if err != nil {
				return nil
			}
			tel.DockerlogsrotatingPoolWait.Record(ctx, waited.Seconds())
			slot = s
			f.recordUtilization(ctx)
		}

		o := f.stream(ctx, *c)
		if ctx.Err() != nil {
			return nil
		}
		switch o.reason {
		case endTailMiss:
			wait = 0 // reopen at once, without tail
		case endMultilineFlush:
			wait = 0 // the stream ended only to emit a group
		case endRotation:
			wait = 0
			tel.DockerlogsrotatingContainersWaiting.Add(ctx, 1)
			waited, err := slot.Yield(ctx)
			tel.DockerlogsrotatingContainersWaiting.Add(context.WithoutCancel(ctx), -1)
			if err != nil {
				return nil
			}
			if waited > 0 {
				tel.DockerlogsrotatingPoolWait.Record(ctx, waited.Seconds())
			}
		case endEOF:
			if !c.Running {
				// The whole log of a stopped container was read: its run
				// is over, and a line it left unfinished never ends.
				switch stopped, err := f.confirmStopped(ctx, *c); {
				case err != nil:
					wait = f.set.Backoff.Next(wait)
				case stopped:
					f.readRun = c.StartedAt
					f.flushPending(ctx)
					wait = 0
				default: // it runs again: follow it
					wait = 0
				}
				continue
			}
			next, stop := f.afterEOF(ctx, *c, o)
			if stop {
				return nil
			}
			wait = next(wait)
		default: // error
			if cerrdefs.IsNotImplemented(o.err) {
				return ErrUnsupported
			}
			if cerrdefs.IsNotFound(o.err) {
				return nil // removed
			}
			wait = f.set.Backoff.Next(wait)
			f.set.Logger.Debug("log stream failed, retrying",
				zap.String("container", c.Name), zap.Duration("backoff", wait), zap.Error(o.err))
		}
	}
	return nil
}

// afterEOF decides what follows a follow stream that ended on its own: the
// container stopped (read its log once more without following: a follow
// stream of Engines before 23 can end before the run's last messages),
// restarted (reopen now), or still runs (the daemon ended the stream:
// reopen with backoff unless it delivered new data). It returns how to
// compute the next backoff.
func (f *Follower) afterEOF(ctx context.Context, prev docker.Container, o outcome) (func(time.Duration) time.Duration, bool) {
	cur := f.info.Load()
	c, err := f.inspect(ctx)
	switch {
	case cerrdefs.IsNotFound(err):
		f.flushPending(ctx)
		return nil, true
	case err != nil:
		return f.set.Backoff.Next, false
	}
	if c.Running && !c.StartedAt.Equal(prev.StartedAt) {
		// That run is over: a line it left unfinished never gets its end.
		f.flushPending(ctx)
		f.atRunEnd = true
	}
	if !f.info.CompareAndSwap(cur, &c) {
		// Discovery stored newer information while we asked (the
		// container restarted meanwhile): it wins.
		c = *f.info.Load()
	}
	if c.Running && !o.fresh {
		return f.set.Backoff.Next, false
	}
	return func(time.Duration) time.Duration { return 0 }, false
}

// confirmStopped makes sure a container believed stopped is, before a line
// it left unfinished is emitted as ended: if it runs again, its info is
// updated and the next stream follows it. Without an unfinished line there
// is nothing to get wrong, and no request is made.
func (f *Follower) confirmStopped(ctx context.Context, c docker.Container) (bool, error) {
	if !f.asm.Pending() {
		return true, nil
	}
	cur := f.info.Load()
	now, err := f.inspect(ctx)
	switch {
	case cerrdefs.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, wrap("inspect stopped container", c, err)
	}
	if !now.Running && now.StartedAt.Equal(c.StartedAt) {
		return true, nil
	}
	f.info.CompareAndSwap(cur, &now)
	return false, nil
}

// inspect reads the container's current state.
func (f *Follower) inspect(ctx context.Context) (docker.Container, error) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := f.set.API.ContainerInspect(rctx, f.id, client.ContainerInspectOptions{})
	if err != nil {
		return docker.Container{}, err
	}
	return docker.ContainerFromInspect(res.Container), nil
}

// flushPending emits lines and groups left unfinished when a container's
// run ended and passes them to the consumer.
func (f *Follower) flushPending(ctx context.Context) {
	if f.tracker == nil {
		return
	}
	now := pcommon.NewTimestampFromTime(time.Now())
	for _, s := range []decode.Stream{decode.Stdout, decode.Stderr} {
		if l, ok := f.asm.Flush(s); ok {
			f.deliver(l, now)
		}
	}
	if f.groups != nil {
		f.groups.flush(time.Time{}, func(r multiline.Record) { f.emitRecord(r, now) })
	}
	f.tracker.Settle(f.discards())
	_ = f.flush(ctx)
}

// discards is the assembler's dropping state for the position.
func (f *Follower) discards() [2]cursor.Discard {
	var d [2]cursor.Discard
	for i, s := range []decode.Stream{decode.Stdout, decode.Stderr} {
		d[i].On, d[i].Timestamp = f.asm.Discarding(s)
		if !d[i].On {
			d[i].Timestamp = 0
		}
	}
	return d
}

func (f *Follower) recordUtilization(ctx context.Context) {
	if c := f.set.Pool.Capacity(); c > 0 {
		f.set.Telemetry.DockerlogsrotatingPoolUtilization.Record(ctx, float64(f.set.Pool.InUse())/float64(c))
	}
}
