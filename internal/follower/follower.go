// Package follower reads one container's log: it opens the stream, decodes
// frames into lines, hands them to the pipeline in batches, closes and
// reopens the stream on schedule, and resumes exactly where it stopped.
package follower // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/follower"

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/batch"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/checkpoint"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/multiline"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/pool"
)

// Settings are shared by every follower of a receiver.
type Settings struct {
	API       docker.API
	Pool      *pool.Pool
	Consumer  consumer.Logs
	ObsReport *receiverhelper.ObsReport
	Telemetry *metadata.TelemetryBuilder
	Logger    *zap.Logger
	// Mode returns the since semantics of the connected daemon.
	Mode func() cursor.Mode
	// Resource builds the resource of a container's records.
	Resource func(docker.Container) pcommon.Resource

	ScopeName, ScopeVersion string

	// StartAtBeginning reads a new container's whole log; otherwise only
	// what it writes from now on.
	StartAtBeginning bool
	// RotationInterval closes and reopens each stream this often (±10%
	// jitter); 0 keeps streams open.
	RotationInterval time.Duration
	// IdleTimeout reopens a stream that sent nothing for this long after
	// its first message; FirstByteTimeout one that sent nothing since it
	// was opened. Zero disables either.
	IdleTimeout, FirstByteTimeout time.Duration
	// MaxLogSize truncates longer lines.
	MaxLogSize int
	// MaxBatch caps the records of one ConsumeLogs call, and MaxBatchBytes
	// their body bytes (0: no byte cap): a batch is handed on when either
	// is reached, so a follower's batch never holds much more than
	// MaxBatchBytes + MaxLogSize.
	MaxBatch      int
	MaxBatchBytes int
	// Deliver is the context batches are handed to the consumer with. The
	// receiver cancels it when shutdown can wait no longer for a consumer
	// that blocks; a batch it cuts is not committed. nil: delivery is never
	// cut.
	Deliver context.Context
	// SlowStreamPause paces slow streams: one that sent less than paceBytes
	// per SlowStreamPause pauses this long after a read that waited for the
	// daemon, so its lines come a few per read and ConsumeLogs instead of
	// one each. 0 reads every stream as fast as it comes.
	SlowStreamPause time.Duration
	// Backoff bounds the wait before retrying a failed open or a refused
	// batch (doubling from Backoff.Initial up to Backoff.Max).
	Backoff backoff.Policy
	// ReopenTail asks the daemon for at least this many newest messages
	// with since when a stream reopens (0: since alone, a full scan). A
	// window that misses the position is grown for the next reopen.
	ReopenTail int
	// Store, when set, holds the positions a previous collector saved:
	// followers start from them.
	Store *checkpoint.Store
	// Positions, when set, saves each container's entry once the consumer
	// accepted its lines, and deletes the entries of removed containers
	// (a checkpoint.Saver on Store). Whoever set it closes it after
	// Group.Wait returned. nil: positions are kept in memory only.
	Positions Positions
	// Multiline returns how a container's lines are grouped into records;
	// nil, or a nil result, emits each line as a record.
	Multiline func(docker.Container) *multiline.Rules
}

// Positions takes the entries to keep across collector restarts. Its
// methods must not block on the store: followers call Commit after every
// batch the consumer accepted.
type Positions interface {
	// Commit records container id's latest entry.
	Commit(id string, e checkpoint.Entry)
	// Remove forgets container id's entry.
	Remove(id string)
}

// maxFrame caps a frame's payload: Docker's own messages are at most 16 KiB
// plus the timestamp (awslogs-sized buffers reach 256 KiB), so anything far
// larger is hostile or corrupt and resets the stream.
const maxFrame = 1 << 20

// outcome says why a stream ended.
type outcome struct {
	reason endReason
	err    error
	data   bool // the stream delivered at least one message
	fresh  bool // one past the replay, that is not read before
}

// Follower reads one container's log for as long as the container exists.
type Follower struct {
	set  *Settings
	id   string
	info atomic.Pointer[docker.Container]
	// resourceChanged asks the Run goroutine to rebuild the resource.
	resourceChanged atomic.Bool

	// Owned by the Run goroutine.
	tracker *cursor.Tracker
	asm     line.Assembler
	groups  *grouping // nil: each line is a record
	// skipLines and skip count the lines the stream's replay still drops
	// (Position.SkipLines, SkipStreamLines).
	skipLines uint64
	skip      [2]uint64
	out       *batch.Builder
	batchTS   int64 // Docker timestamp of the oldest line in the batch
	// batchNewest is that of its newest line.
	batchNewest int64
	counts      [2]int64
	merged      int64
	truncated   int64
	// lag is read by the rotation timer.
	lag lagMeter
	// committed is the position the consumer has accepted everything before.
	committed atomic.Pointer[cursor.Position]
	start     Start
	// dropped counts records rejected permanently since droppedLogged.
	dropped       int64
	droppedLogged time.Time
	// tailMisses counts the tail windows in a row that did not reach back
	// to the position; each makes the next window larger.
	tailMisses int
	// missedAt is the first message of the last window that missed.
	missedAt cursor.Fingerprint
	// gapAt is the last position whose replay found a gap; the tracker
	// rewinds to it until a settled point follows the gap.
	gapAt cursor.Position
	// atRunEnd says the position may lie at the end of a run before the
	// container's current one (no new message was read since), where a
	// host clock stepped back can make the current run's stamps older.
	atRunEnd bool
	// searchSince is the since of the stream being read, when it looks
	// for the position from an earlier since (cursor.NewSearch); 0 if not.
	searchSince int64
	// pauses counts the waits of a paced stream (read by tests).
	pauses int
	// readRun is the StartedAt of the last run read to its end (a stream
	// of the stopped container ended by EOF): a stopped container whose
	// latest run started later still has lines to read (it ran and exited
	// between two looks), and so does one whose stream a rotation or an
	// error cut.
	readRun time.Time
}

// Start says where a follower begins reading.
type Start struct {
	// Position to begin at, unless AtEnd.
	Position cursor.Position
	// AtEnd skips everything the container logged before the follower
	// starts: the daemon is asked for the last message first.
	AtEnd bool
	// RunRead is the start (Unix ns) of the last run already read to its
	// end, 0 if none.
	RunRead int64
}

// New creates a follower for c.
func New(set *Settings, c docker.Container, start Start) *Follower {
	f := &Follower{set: set, id: c.ID, start: start}
	if start.RunRead != 0 {
		f.readRun = time.Unix(0, start.RunRead)
		f.atRunEnd = true
	}
	f.info.Store(&c)
	f.asm = line.Assembler{MaxSize: set.MaxLogSize, TrimCR: c.TTY}
	if set.Multiline != nil {
		if r := set.Multiline(c); r != nil {
			f.groups = newGrouping(r)
		}
	}
	f.out = batch.New(set.ScopeName, set.ScopeVersion)
	f.out.SetResource(set.Resource(c))
	return f
}

// Update gives the follower fresh container information; its next stream
// uses it.
func (f *Follower) Update(c docker.Container) {
	old := f.info.Swap(&c)
	if old == nil || old.Name != c.Name || old.Image != c.Image {
		// The resource is read by the Run goroutine at its next batch.
		f.resourceChanged.Store(true)
	}
}

// Committed returns the position up to which the consumer accepted every
// line, or nil before the first accepted batch.
func (f *Follower) Committed() *cursor.Position { return f.committed.Load() }

// ErrUnsupported ends a follower whose container's logging driver cannot
// be read back through the API (HTTP 501).
var ErrUnsupported = errors.New("the container's logging driver does not support reading")

// errRunRead ends a follower whose container is stopped and whose run was
// read to its end: until it starts again, its entry is all there is to
// keep.
var errRunRead = errors.New("the container's run was read to its end")

// entry is what is kept of the container once its follower returned.
func (f *Follower) entry() checkpoint.Entry {
	e := checkpoint.Entry{RunRead: runNanos(f.readRun)}
	if p := f.committed.Load(); p != nil {
		e.Position = *p
	}
	return e
}

func runNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

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

// errorType maps an error to the bounded error.type attribute.
func errorType(err error) ErrorType {
	var de *decode.DaemonError
	switch {
	case cerrdefs.IsNotFound(err):
		return errorNotFound
	case cerrdefs.IsNotImplemented(err):
		return errorUnsupported
	case errors.As(err, &de):
		return errorDaemon
	case errors.Is(err, decode.ErrFrameTooLarge), errors.Is(err, decode.ErrBadHeader):
		return errorFrame
	}
	return errorRead
}

func attrSet(key, value string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(key, value)))
}

var (
	stdoutAttr = attrSet("stream", "stdout")
	stderrAttr = attrSet("stream", "stderr")
)

func wrap(what string, c docker.Container, err error) error {
	return fmt.Errorf("%s for container %s (%.12s): %w", what, c.Name, c.ID, err)
}
