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

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/batch"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/checkpoint"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
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
	Positions checkpoint.Positions
	// Multiline returns how a container's lines are grouped into records;
	// nil, or a nil result, emits each line as a record.
	Multiline func(docker.Container) *multiline.Rules
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

// Follower reads one container's log for as long as the container exists.
// Its methods sit in files named for their job: run.go loops over the
// container's streams, session.go reads one of them, deliver.go hands
// lines on in batches, start.go decides where reading begins.
type Follower struct {
	set   *Settings
	id    string
	start Start
	info  atomic.Pointer[docker.Container]
	// resourceChanged asks the Run goroutine to rebuild the resource.
	resourceChanged atomic.Bool
	// committed is the position the consumer has accepted everything before.
	committed atomic.Pointer[cursor.Position]
	// lag is read by the rotation timer.
	lag lagMeter

	// Owned by the Run goroutine; they outlive each stream.
	tracker *cursor.Tracker
	asm     line.Assembler
	groups  *grouping // nil: each line is a record
	out     *batch.Builder
	batch   batchStats // of the lines in out
	drops   dropReport
	tails   tailWindows
	// gapAt is the last position whose replay found a gap; the tracker
	// rewinds to it until a settled point follows the gap.
	gapAt cursor.Position
	// atRunEnd says the position may lie at the end of a run before the
	// container's current one (no new message was read since), where a
	// host clock stepped back can make the current run's stamps older.
	atRunEnd bool
	// readRun is the StartedAt of the last run read to its end (a stream
	// of the stopped container ended by EOF): a stopped container whose
	// latest run started later still has lines to read (it ran and exited
	// between two looks), and so does one whose stream a rotation or an
	// error cut.
	readRun time.Time
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

func wrap(what string, c docker.Container, err error) error {
	return fmt.Errorf("%s for container %s (%.12s): %w", what, c.Name, c.ID, err)
}
