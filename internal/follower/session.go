package follower

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/moby/moby/client"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/multiline"
)

// outcome says why a stream ended.
type outcome struct {
	reason endReason
	err    error
	data   bool // the stream delivered at least one message
	fresh  bool // one past the replay, that is not read before
}

// session is one open log stream of a container: what lives from its open
// to its close. What outlives it (position, line assembly, groups, the
// batch) stays on the Follower.
type session struct {
	f      *Follower
	c      docker.Container
	pos    cursor.Position // where the stream resumes
	tailed bool            // opened with a tail window
	// searchSince is the since of the stream when it looks for the
	// position from an earlier since (cursor.NewSearch); 0 if not.
	searchSince int64
	opened      time.Time

	// sctx is the stream's context: the rotation, the watchdog and the
	// flush timer cancel it to end the stream.
	sctx   context.Context
	cancel context.CancelFunc
	body   io.ReadCloser
	rot    *rotation
	dog    *watchdog
	due    *flushTimer // nil: no multiline groups to flush in time
	dec    *decode.Reader
	replay *cursor.Replay
	recent resendGuard
	// resends says the daemon may send copies: they were seen with Engine
	// 20.10's json-file follower, which Engine 23 replaced: from 23 on,
	// two equal messages are two lines.
	resends bool
	// orphans: Podman stamps each part of a split line anew, whatever its
	// driver is called.
	orphans bool
	pace    pacer

	// skipLines and skip count the lines the replay still drops
	// (Position.SkipLines, SkipStreamLines).
	skipLines uint64
	skip      [2]uint64
	dupes     int64 // messages and lines dropped as read before
	bytes     int64 // payload bytes of the messages kept

	// observed is when the lines of the batch being read arrived.
	observed pcommon.Timestamp
	// seen and frames count payload bytes and frames read, replayed ones
	// included.
	seen, frames int64
	waited       bool // the last read from the stream had to wait for the daemon
	// sock tells whether bytes wait in the stream's socket (on a unix
	// endpoint).
	sock     *docker.Socket
	handedOn time.Time // when the consumer last took a batch of this stream
}

// stream opens one log stream at the tracker's position and reads it until
// it rotates, ends, fails or ctx ends. Everything read is flushed to the
// consumer before it returns. The stream follows a running container; a
// stopped one's log is read to its end.
func (f *Follower) stream(ctx context.Context, c docker.Container) outcome {
	s := f.newSession(ctx, c)
	defer s.close()
	if o, ok := s.open(ctx); !ok {
		return o
	}
	return s.finish(ctx, s.read(ctx))
}

// newSession starts the stream's rotation timer and watchdog.
func (f *Follower) newSession(ctx context.Context, c docker.Container) *session {
	s := &session{f: f, c: c, pos: f.tracker.Rewind()}
	s.sctx, s.cancel = context.WithCancel(ctx)
	s.rot = &rotation{cancel: s.cancel, interval: f.set.RotationInterval, behind: f.mayPostpone}
	if s.rot.interval > 0 {
		s.rot.start(jitter(s.rot.interval))
	}
	s.dog = startWatchdog(f.set.FirstByteTimeout, f.set.IdleTimeout, s.cancel)
	return s
}

// close releases what the session holds.
func (s *session) close() {
	if s.body != nil {
		s.body.Close()
	}
	s.dog.stop()
	if s.rot.interval > 0 {
		s.rot.stop()
	}
	s.cancel()
}

// open asks the daemon for the stream. When it cannot, it returns false
// and how the stream ended.
func (s *session) open(ctx context.Context) (outcome, bool) {
	f, c, pos := s.f, s.c, s.pos
	tel := f.set.Telemetry
	f.set.Logger.Debug("open log stream", zap.String("container", c.Name), zap.Any("position", pos))
	s.opened = time.Now()
	// A bounded tail spares the daemon decoding the whole retained log up
	// to since on every reopen; the replay checks the window reached back
	// to the position, and the next open asks for a larger one if not.
	tail := ""
	window := uint64(0)
	if f.set.ReopenTail > 0 && f.tracker.Mode().TailSafe(pos) {
		window = f.tails.size(uint64(f.set.ReopenTail), pos)
	}
	since := f.tracker.Mode().SinceParam(pos)
	if f.clockStepped(c, pos) {
		// The run's lines are stamped before the position: an Engine
		// before 23 would drop them. Look for the position from a
		// second before the run started, without a tail window.
		s.searchSince = c.StartedAt.Add(-time.Second).UnixNano()
		since, window = cursor.Position{Since: s.searchSince}.SinceParam(), 0
	}
	s.tailed = window > 0
	if s.tailed {
		tail = strconv.FormatUint(window, 10)
	}
	octx, sock := docker.WatchSocket(s.sctx)
	s.sock = sock
	body, err := f.set.API.ContainerLogs(octx, f.id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: c.Running, Since: since, Tail: tail,
	})
	if err != nil {
		if ctx.Err() != nil {
			return outcome{reason: endShutdown}, false
		}
		if s.dog.fired.Load() {
			tel.DockerlogsrotatingStreamErrors.Add(ctx, 1, errorStall.Attr())
			return outcome{reason: endIdle, err: wrap("open log stream", c, errStalled)}, false
		}
		tel.DockerlogsrotatingStreamErrors.Add(ctx, 1, errorType(err).Attr())
		if s.rot.rotated() {
			return outcome{reason: endRotation}, false
		}
		return outcome{reason: endError, err: wrap("open log stream", c, err)}, false
	}
	s.body = body
	tel.DockerlogsrotatingStreamsOpen.Add(ctx, 1)
	return outcome{}, true
}

// prepare readies the decoder, the replay and the container's line
// assembly for the stream's first message.
func (s *session) prepare() {
	f, c, pos := s.f, s.c, s.pos
	mode := f.tracker.Mode()
	s.dec = newDecoder(c, s.body, mode)
	s.orphans = line.ContinuationsShareTimestamp(c.LogDriver) && mode != cursor.SinceAfter
	s.replay = cursor.NewReplay(pos, s.tailed, f.tails.missedAt)
	if s.searchSince != 0 {
		s.replay = cursor.NewSearch(pos)
	}
	if s.replay.Done() {
		s.rot.progressed()
	}
	s.skipLines, s.skip = pos.SkipLines, pos.SkipStreamLines
	f.asm.Reset()
	if f.groups != nil {
		f.groups.reset()
		s.due = newFlushTimer(s.rot.cancel)
	}
	f.asm.TrimCR = c.TTY
	f.asm.SetDiscarding(decode.Stdout, pos.Discarding[0].On, pos.Discarding[0].Timestamp)
	f.asm.SetDiscarding(decode.Stderr, pos.Discarding[1].On, pos.Discarding[1].Timestamp)
	s.resends = mode == cursor.SinceFilter
	s.pace = pacer{delay: f.set.SlowStreamPause}
}

// read decodes the stream into lines. Lines go to the batch, which is
// flushed whenever the decoder has no more buffered bytes (the reader has
// caught up) or the batch is full. The stream's reads end with sctx
// (cancelled at rotation); flushing uses ctx, so a rotation never cuts a
// batch that the consumer has not accepted yet.
func (s *session) read(ctx context.Context) outcome {
	f, tel := s.f, s.f.set.Telemetry
	s.prepare()
	var o outcome
	for {
		// Hand the batch on before a read that may block (the reader has
		// caught up), or when it is full. Checked before every frame, so
		// frames dropped as duplicates do not hold back a batch.
		caughtUp := s.dec.Buffered() == 0
		if caughtUp || f.batchFull() {
			if s.handOn(ctx, caughtUp, o.data) != nil {
				return o
			}
		}
		fr, err := s.next(caughtUp)
		if err != nil {
			return s.ended(ctx, err, o)
		}
		s.seen += int64(len(fr.Payload))
		s.frames++
		if !o.data {
			o.data = true
			tel.DockerlogsrotatingReopenDuration.Record(ctx, time.Since(s.opened).Seconds())
			s.dog.fed()
		}
		if s.observed == 0 {
			s.observed = pcommon.NewTimestampFromTime(time.Now())
		}
		if !s.replay.Done() {
			keep, missed := s.replayed(ctx, fr)
			if missed {
				o.reason = endTailMiss
				return o
			}
			if !keep {
				continue
			}
		}
		if s.resends && !fr.BadTimestamp && s.recent.resent(fr) {
			s.dupes++
			continue
		}
		o.fresh = true
		s.take(ctx, fr)
	}
}

// handOn passes the batch to the consumer and, when the reader caught up,
// readies the next read, which may wait long. It fails only when the
// consumer could not take the batch before ctx ended.
func (s *session) handOn(ctx context.Context, caughtUp, data bool) error {
	f := s.f
	s.observed = 0
	if s.due != nil {
		s.due.arm(time.Time{}) // time on the consumer is not time without lines
	}
	if f.out.Len() > 0 {
		// Time blocked on the consumer is not the daemon's idleness.
		s.dog.stop()
		if err := f.flush(ctx); err != nil {
			return err
		}
		s.handedOn = time.Now()
	}
	if data {
		s.dog.fed()
	}
	if !caughtUp {
		return nil
	}
	// The next read may wait long: buffers a long line grew go back (a
	// no-op unless one did).
	f.asm.Shrink(idleBufferSize)
	s.dec.Shrink(idleBufferSize)
	// A slow stream that the reader has drained pauses before it reads
	// again, so that the lines written meanwhile come in one read. Drained:
	// its socket is empty, or, where that cannot be asked, its last read
	// waited for the daemon. Asking spares the read that would wait for
	// the next line alone, and its hand-on: one wake-up and one ConsumeLogs
	// per pause instead of two. A rotation or shutdown ends the pause and
	// the read after it; the pause is not idleness.
	if data && s.drained() {
		s.dog.stop()
		backoff.Sleep(s.sctx, s.pace.pause(time.Now()))
		s.dog.fed()
	}
	if s.due != nil {
		s.due.arm(f.groups.flushAt(s.handedOn))
	}
	return nil
}

// drained reports whether a slow stream's reader has taken everything the
// daemon sent, so that it pauses (see handOn). The socket is asked only
// once the pacer would pause, so a fast stream's reads cost no more.
func (s *session) drained() bool {
	now := time.Now()
	if s.waited {
		return s.pace.slow(now, s.seen, s.frames)
	}
	if !s.pace.wouldPause(now, s.seen, s.frames) {
		return false
	}
	if empty, ok := s.sock.Empty(); !ok || !empty {
		return false
	}
	return s.pace.slow(now, s.seen, s.frames)
}

// next reads the next frame. A rotation cancels the stream's reads; the
// frames already buffered still come out before the read error.
func (s *session) next(caughtUp bool) (decode.Frame, error) {
	var start time.Time
	if caughtUp {
		start = time.Now()
	}
	fr, err := s.dec.Next()
	if caughtUp {
		s.waited = time.Since(start) >= readWaited
	}
	return fr, err
}

// ended is read's outcome once the stream returned err.
func (s *session) ended(ctx context.Context, err error, o outcome) outcome {
	f, c := s.f, s.c
	switch {
	case s.due != nil && s.due.expired():
		// Ended to emit a group no line continued in time.
		s.flushGroups(time.Now())
		o.reason = endMultilineFlush
	case errors.Is(err, io.EOF) && s.searchSince != 0:
		// The position is not in the log any more: read the run from its
		// start instead (lines may come twice, none is lost).
		f.set.Telemetry.DockerlogsrotatingCursorGaps.Add(ctx, 1)
		f.set.Logger.Warn("resume position not found after a clock step; reading the current run from its start",
			zap.String("container", c.Name), zap.String("container.id", c.ID))
		f.tracker = cursor.NewTracker(f.tracker.Mode(), cursor.Position{Since: s.searchSince, MaxTimestamp: s.searchSince - 1})
		f.atRunEnd, s.searchSince = false, 0
		o.err = errSearchMissed
	case errors.Is(err, io.EOF):
		o.reason = endEOF
	default:
		o.err = err
	}
	return o
}

// replayed passes a message through the replay: keep says it is new;
// missed that the tail window missed the position (reopen with a larger
// one).
func (s *session) replayed(ctx context.Context, fr decode.Frame) (keep, missed bool) {
	f, c := s.f, s.c
	if !s.replay.Keep(fr) {
		if s.replay.Missed() {
			return false, true
		}
		s.dupes++
		if s.replay.Done() {
			s.rot.progressed()
			if s.searchSince != 0 {
				// Found: resume from the stream's own since.
				f.tracker = cursor.NewTracker(f.tracker.Mode(), s.replay.Searched(s.searchSince))
				s.searchSince = 0
			}
		}
		return false, false
	}
	s.rot.progressed()
	switch {
	case s.replay.Gap() && f.gapAt == withoutLines(s.pos):
		// The same gap as the last stream's, which ended before a
		// settled point followed it: the lines it completed after the
		// gap are rebuilt from the same retained messages.
	case s.replay.Gap():
		f.set.Telemetry.DockerlogsrotatingCursorGaps.Add(ctx, 1)
		f.set.Logger.Warn("resume position was rotated away by Docker; lines written between it and the oldest retained line may be lost",
			zap.String("container", c.Name), zap.String("container.id", c.ID))
		// Lines completed after the position may have been built from
		// messages that are gone too: better twice than lost.
		s.skipLines, s.skip = 0, [2]uint64{}
		f.gapAt = withoutLines(s.pos)
		f.tracker.ForgetLines()
	}
	return true, false
}

// take consumes a new message: the position, the groups and the lines it
// completes.
func (s *session) take(ctx context.Context, fr decode.Frame) {
	f := s.f
	if fr.BadTimestamp {
		// Delivered with its whole text; counted so it is not silent.
		f.set.Telemetry.DockerlogsrotatingStreamErrors.Add(ctx, 1, errorFrame.Attr())
	}
	f.tracker.Observe(fr)
	// Checked before the closure is built: this runs for every frame.
	if f.groups != nil && fr.Timestamp > 0 && f.groups.stale(fr.Timestamp) {
		f.groups.flushStale(fr.Timestamp, func(r multiline.Record) { f.emitRecord(r, s.observed) })
	}
	s.bytes += int64(len(fr.Payload))
	if s.orphans {
		if l, ok := f.asm.Orphan(fr); ok {
			s.complete(l)
		}
	}
	if l, ok := f.asm.Add(fr); ok {
		s.complete(l)
	}
	s.settle()
}

// complete delivers a line the assembler completed, unless the replay
// rebuilt it and an earlier stream emitted it.
func (s *session) complete(l line.Line) {
	if s.skipLines > 0 {
		s.skipLines--
		s.dupes++
		return
	}
	if i := l.Stream.Index(); s.skip[i] > 0 {
		s.skip[i]--
		s.dupes++
		return
	}
	s.f.deliver(l, s.observed)
}

// settle marks the point after the last message as resumable, unless a
// line or a group is unfinished there. Nor while the replay still drops
// lines emitted before: the groupers have not seen them, so they look
// empty where the groups of the first read were still open.
func (s *session) settle() {
	f := s.f
	if s.skipLines == 0 && s.skip == [2]uint64{} && !f.asm.Pending() && (f.groups == nil || !f.groups.pending()) {
		f.tracker.Settle(f.discards())
	}
}

// flushGroups emits the groups due at now and settles if nothing is left
// unfinished.
func (s *session) flushGroups(now time.Time) {
	s.f.groups.flush(now, func(r multiline.Record) { s.f.emitRecord(r, pcommon.NewTimestampFromTime(now)) })
	s.settle()
}

// finish hands on what read left in the batch, records the stream's end
// and decides its outcome.
func (s *session) finish(ctx context.Context, o outcome) outcome {
	f, c, tel := s.f, s.c, s.f.set.Telemetry
	bg := context.WithoutCancel(ctx)
	if s.due != nil {
		s.due.stop()
	}
	if s.dupes > 0 {
		tel.DockerlogsrotatingDuplicatesSkipped.Add(bg, s.dupes)
	}
	tel.DockerlogsrotatingBytesRead.Add(bg, s.bytes)
	f.tails.ended(s.replay)

	s.dog.stop() // time spent on the consumer is not the daemon's idleness
	if o.fresh {
		f.atRunEnd = false
	}
	if f.out.Len() > 0 {
		if f.flush(ctx) != nil {
			o.reason = endShutdown
		}
	}
	tel.DockerlogsrotatingStreamsOpen.Add(bg, -1)
	tel.DockerlogsrotatingStreamAge.Record(bg, time.Since(s.opened).Seconds())
	switch {
	case ctx.Err() != nil:
		o.reason = endShutdown
	case o.reason == endTailMiss, o.reason == endMultilineFlush:
	case s.rot.rotated() && o.reason != endEOF:
		o.reason, o.err = endRotation, nil
	case s.dog.fired.Load() && o.reason != endEOF:
		o.reason, o.err = endIdle, wrap("read log stream", c, errStalled)
		tel.DockerlogsrotatingStreamErrors.Add(bg, 1, errorStall.Attr())
	case o.err != nil:
		o.reason = endError
		tel.DockerlogsrotatingStreamErrors.Add(bg, 1, errorType(o.err).Attr())
		o.err = wrap("read log stream", c, o.err)
	}
	tel.DockerlogsrotatingStreamRotations.Add(bg, 1, o.reason.attr())
	f.set.Logger.Debug("log stream closed", zap.String("container", c.Name), zap.String("reason", string(o.reason)), zap.Error(o.err))
	return o
}

// withoutLines is p without its counts of lines to skip.
func withoutLines(p cursor.Position) cursor.Position {
	p.SkipLines, p.SkipStreamLines = 0, [2]uint64{}
	return p
}

// newDecoder reads a TTY container's raw stream or another's multiplexed
// one. The daemon's Content-Type cannot decide: before API 1.42 it says
// raw-stream for both.
func newDecoder(c docker.Container, body io.Reader, m cursor.Mode) *decode.Reader {
	if c.TTY {
		r := decode.NewRawReader(body, maxFrame)
		r.SplitCR = m == cursor.SinceAfter // Podman
		return r
	}
	return decode.NewMuxReader(body, maxFrame)
}

// maxFrame caps a frame's payload: Docker's own messages are at most 16 KiB
// plus the timestamp (awslogs-sized buffers reach 256 KiB), so anything far
// larger is hostile or corrupt and resets the stream.
const maxFrame = 1 << 20

// idleBufferSize is what a quiet stream's decoder and assembler keep of
// buffers that long lines grew.
const idleBufferSize = 64 << 10

var errStalled = errors.New("no data within the idle or first-byte timeout")

var errSearchMissed = errors.New("resume position not found from the current run's start")

// clockStepped reports whether the container's current run started before
// the position's since while the position lies at the end of an earlier
// run: the host clock was stepped back across the restart. Only Engines
// before 23 drop messages older than since, and only an anchored position
// can be found again.
func (f *Follower) clockStepped(c docker.Container, pos cursor.Position) bool {
	return f.atRunEnd && f.tracker.Mode() == cursor.SinceFilter && pos.Skip > 0 && pos.TailSafe() &&
		!c.StartedAt.IsZero() && c.StartedAt.UnixNano() <= pos.Since
}
