package follower

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/moby/moby/client"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/checkpoint"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/decode"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/multiline"
)

// stream opens one log stream at the tracker's position and reads it until
// it rotates, ends, fails or ctx ends. Everything read is flushed to the
// consumer before it returns. The stream follows a running container; a
// stopped one's log is read to its end.
func (f *Follower) stream(ctx context.Context, c docker.Container) outcome {
	tel := f.set.Telemetry
	pos := f.tracker.Rewind()

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rot := &rotation{cancel: cancel, interval: f.set.RotationInterval, behind: f.mayPostpone}
	if rot.interval > 0 {
		rot.start(jitter(rot.interval))
		defer rot.stop()
	}

	dog := startWatchdog(f.set.FirstByteTimeout, f.set.IdleTimeout, cancel)
	defer dog.stop()

	f.set.Logger.Debug("open log stream", zap.String("container", c.Name), zap.Any("position", pos))
	opened := time.Now()
	// A bounded tail spares the daemon decoding the whole retained log up
	// to since on every reopen; the replay checks the window reached back
	// to the position, and the next open asks for a larger one if not.
	tail := ""
	window := uint64(0)
	if f.set.ReopenTail > 0 && f.tracker.Mode().TailSafe(pos) {
		window = tailWindow(uint64(f.set.ReopenTail), pos.Skip, f.tailMisses)
	}
	since := f.tracker.Mode().SinceParam(pos)
	f.searchSince = 0
	if f.clockStepped(c, pos) {
		// The run's lines are stamped before the position: an Engine
		// before 23 would drop them. Look for the position from a
		// second before the run started, without a tail window.
		f.searchSince = c.StartedAt.Add(-time.Second).UnixNano()
		since, window = cursor.Position{Since: f.searchSince}.SinceParam(), 0
	}
	tailed := window > 0
	if tailed {
		tail = strconv.FormatUint(window, 10)
	}
	body, err := f.set.API.ContainerLogs(sctx, f.id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: c.Running, Since: since, Tail: tail,
	})
	if err != nil {
		if ctx.Err() != nil {
			return outcome{reason: endShutdown}
		}
		if dog.fired.Load() {
			tel.DockerlogsrotatingStreamErrors.Add(ctx, 1, errorStall.Attr())
			return outcome{reason: endIdle, err: wrap("open log stream", c, errStalled)}
		}
		tel.DockerlogsrotatingStreamErrors.Add(ctx, 1, errorType(err).Attr())
		if rot.rotated() {
			return outcome{reason: endRotation}
		}
		return outcome{reason: endError, err: wrap("open log stream", c, err)}
	}
	defer body.Close()
	tel.DockerlogsrotatingStreamsOpen.Add(ctx, 1)

	o := f.read(ctx, sctx, c, body, pos, tailed, opened, dog, rot)
	dog.stop() // time spent on the consumer is not the daemon's idleness
	if o.fresh {
		f.atRunEnd = false
	}
	if f.out.Len() > 0 {
		if f.flush(ctx) != nil {
			o.reason = endShutdown
		}
	}
	bg := context.WithoutCancel(ctx)
	tel.DockerlogsrotatingStreamsOpen.Add(bg, -1)
	tel.DockerlogsrotatingStreamAge.Record(bg, time.Since(opened).Seconds())
	switch {
	case ctx.Err() != nil:
		o.reason = endShutdown
	case o.reason == endTailMiss, o.reason == endMultilineFlush:
	case rot.rotated() && o.reason != endEOF:
		o.reason, o.err = endRotation, nil
	case dog.fired.Load() && o.reason != endEOF:
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

// read decodes the stream into lines. Lines go to the batch, which is
// flushed whenever the decoder has no more buffered bytes (the reader has
// caught up) or the batch is full. sctx is the stream's context (cancelled
// at rotation); flushing uses ctx, so a rotation never cuts a batch that
// the consumer has not accepted yet.
func (f *Follower) read(ctx, sctx context.Context, c docker.Container, body io.Reader, pos cursor.Position, tailed bool, opened time.Time, dog *watchdog, rot *rotation) outcome {
	tel := f.set.Telemetry
	dec := newDecoder(c, body, f.tracker.Mode())
	// Podman stamps each part of a split line anew, whatever its driver is called.
	orphans := line.ContinuationsShareTimestamp(c.LogDriver) && f.tracker.Mode() != cursor.SinceAfter
	replay := cursor.NewReplay(pos, tailed, f.missedAt)
	if f.searchSince != 0 {
		replay = cursor.NewSearch(pos)
	}
	if replay.Done() {
		rot.progressed()
	}
	defer func() {
		f.missedAt = replay.MissedAt()
		if replay.Untailed() {
			f.tailMisses++
		} else {
			f.tailMisses = 0
		}
	}()
	f.skipLines, f.skip = pos.SkipLines, pos.SkipStreamLines
	f.asm.Reset()
	var due *flushTimer
	if f.groups != nil {
		f.groups.reset()
		due = newFlushTimer(rot.cancel)
		defer due.stop()
	}
	f.asm.TrimCR = c.TTY
	f.asm.SetDiscarding(decode.Stdout, pos.Discarding[0].On, pos.Discarding[0].Timestamp)
	f.asm.SetDiscarding(decode.Stderr, pos.Discarding[1].On, pos.Discarding[1].Timestamp)

	var o outcome
	var dupes, bytes int64
	defer func() {
		bg := context.WithoutCancel(ctx)
		if dupes > 0 {
			tel.DockerlogsrotatingDuplicatesSkipped.Add(bg, dupes)
		}
		tel.DockerlogsrotatingBytesRead.Add(bg, bytes)
	}()
	observed := pcommon.Timestamp(0)
	var recent resendGuard
	// The copies were seen with Engine 20.10's json-file follower, which
	// Engine 23 replaced: from 23 on, two equal messages are two lines.
	resends := f.tracker.Mode() == cursor.SinceFilter
	pace := pacer{delay: f.set.SlowStreamPause}
	var seen, frames int64 // payload bytes and frames read, replayed ones included
	waited := false        // the last read from the stream had to wait for the daemon
	var handedOn time.Time // when the consumer last took a batch of this stream
	for {
		// Hand the batch on before a read that may block (the reader has
		// caught up), or when it is full. Checked before every frame, so
		// frames dropped as duplicates do not hold back a batch.
		caughtUp := dec.Buffered() == 0
		if caughtUp || f.batchFull() {
			observed = 0
			if due != nil {
				due.arm(time.Time{}) // time on the consumer is not time without lines
			}
			if f.out.Len() > 0 {
				// Time blocked on the consumer is not the daemon's idleness.
				dog.stop()
				if f.flush(ctx) != nil {
					return o
				}
				handedOn = time.Now()
			}
			if o.data {
				dog.fed()
			}
			if caughtUp {
				// The next read may wait long: buffers a long line grew
				// go back (a no-op unless one did).
				f.asm.Shrink(idleBufferSize)
				dec.Shrink(idleBufferSize)
			}
			// A slow stream that the reader has drained (its last read
			// waited for the daemon) pauses before it reads again, so that
			// the lines written meanwhile come in one read. After a read
			// that did not wait, more may be in the socket: no pause. A
			// rotation or shutdown ends the pause and the read after it;
			// the pause is not idleness.
			if caughtUp && waited && o.data && pace.slow(time.Now(), seen, frames) {
				f.pauses++
				dog.stop()
				backoff.Sleep(sctx, pace.pause(time.Now()))
				dog.fed()
			}
			if caughtUp && due != nil {
				due.arm(f.groups.flushAt(handedOn))
			}
		}
		// A rotation cancels the stream's reads; the frames already
		// buffered still come out before the read error.
		var start time.Time
		if caughtUp {
			start = time.Now()
		}
		fr, err := dec.Next()
		if caughtUp {
			waited = time.Since(start) >= readWaited
		}
		if err != nil {
			switch {
			case due != nil && due.expired():
				// Ended to emit a group no line continued in time.
				f.flushGroups(time.Now())
				o.reason = endMultilineFlush
			case errors.Is(err, io.EOF) && f.searchSince != 0:
				// The position is not in the log any more: read the run
				// from its start instead (lines may come twice, none is
				// lost).
				tel.DockerlogsrotatingCursorGaps.Add(ctx, 1)
				f.set.Logger.Warn("resume position not found after a clock step; reading the current run from its start",
					zap.String("container", c.Name), zap.String("container.id", c.ID))
				f.tracker = cursor.NewTracker(f.tracker.Mode(), cursor.Position{Since: f.searchSince, MaxTimestamp: f.searchSince - 1})
				f.atRunEnd, f.searchSince = false, 0
				o.err = errSearchMissed
			case errors.Is(err, io.EOF):
				o.reason = endEOF
			default:
				o.err = err
			}
			return o
		}
		seen += int64(len(fr.Payload))
		frames++
		if !o.data {
			o.data = true
			tel.DockerlogsrotatingReopenDuration.Record(ctx, time.Since(opened).Seconds())
			dog.fed()
		}
		if observed == 0 {
			observed = pcommon.NewTimestampFromTime(time.Now())
		}
		if !replay.Done() {
			if !replay.Keep(fr.Timestamp, uint8(fr.Stream), fr.Partial, fr.Payload) {
				if replay.Missed() {
					o.reason = endTailMiss
					return o
				}
				dupes++
				if replay.Done() {
					rot.progressed()
					if f.searchSince != 0 {
						// Found: resume from the stream's own since.
						f.tracker = cursor.NewTracker(f.tracker.Mode(), replay.Searched(f.searchSince))
						f.searchSince = 0
					}
				}
				continue
			}
			rot.progressed()
			switch {
			case replay.Gap() && f.gapAt == withoutLines(pos):
				// The same gap as the last stream's, which ended before a
				// settled point followed it: the lines it completed after
				// the gap are rebuilt from the same retained messages.
			case replay.Gap():
				tel.DockerlogsrotatingCursorGaps.Add(ctx, 1)
				f.set.Logger.Warn("resume position was rotated away by Docker; lines written between it and the oldest retained line may be lost",
					zap.String("container", c.Name), zap.String("container.id", c.ID))
				// Lines completed after the position may have been built
				// from messages that are gone too: better twice than lost.
				f.skipLines, f.skip = 0, [2]uint64{}
				f.gapAt = withoutLines(pos)
				f.tracker.ForgetLines()
			}
		}
		if resends && !fr.BadTimestamp && recent.resent(fr) {
			dupes++
			continue
		}
		o.fresh = true
		if fr.BadTimestamp {
			// Delivered with its whole text; counted so it is not silent.
			tel.DockerlogsrotatingStreamErrors.Add(ctx, 1, errorFrame.Attr())
		}
		f.tracker.Observe(fr.Timestamp, uint8(fr.Stream), fr.Partial, fr.Payload)
		// Checked before the closure is built: this runs for every frame.
		if f.groups != nil && fr.Timestamp > 0 && f.groups.stale(fr.Timestamp) {
			f.groups.flushStale(fr.Timestamp, func(r multiline.Record) { f.emitRecord(r, observed) })
		}
		bytes += int64(len(fr.Payload))
		complete := func(l line.Line) {
			// Rebuilt by the replay, emitted by an earlier stream.
			if f.skipLines > 0 {
				f.skipLines--
				dupes++
				return
			}
			if i := cursor.StreamIndex(uint8(l.Stream)); f.skip[i] > 0 {
				f.skip[i]--
				dupes++
				return
			}
			f.deliver(l, observed)
		}
		if orphans {
			if l, ok := f.asm.Orphan(fr); ok {
				complete(l)
			}
		}
		if l, ok := f.asm.Add(fr); ok {
			complete(l)
		}
		f.settle()
	}
}

// settle marks the point after the last message as resumable, unless a
// line or a group is unfinished there. Nor while the replay still drops
// lines emitted before: the groupers have not seen them, so they look
// empty where the groups of the first read were still open.
func (f *Follower) settle() {
	if f.skipLines == 0 && f.skip == [2]uint64{} && !f.asm.Pending() && (f.groups == nil || !f.groups.pending()) {
		f.tracker.Settle(f.discards())
	}
}

// deliver emits a completed line, or hands it to its stream's grouping.
func (f *Follower) deliver(l line.Line, observed pcommon.Timestamp) {
	if f.groups == nil {
		f.tracker.LinesDone(uint8(l.Stream), 1)
		f.emit(l, observed)
		return
	}
	for _, r := range f.groups.add(l, time.Now()) {
		f.emitRecord(r, observed)
	}
}

// emitRecord emits a group of r.Lines lines as one record.
func (f *Follower) emitRecord(r multiline.Record, observed pcommon.Timestamp) {
	f.tracker.LinesDone(uint8(r.Stream), r.Lines)
	f.emit(r.Line, observed)
}

// flushGroups emits the groups due at now and settles if nothing is left
// unfinished.
func (f *Follower) flushGroups(now time.Time) {
	f.groups.flush(now, func(r multiline.Record) { f.emitRecord(r, pcommon.NewTimestampFromTime(now)) })
	f.settle()
}

// withoutLines is p without its counts of lines to skip.
func withoutLines(p cursor.Position) cursor.Position {
	p.SkipLines, p.SkipStreamLines = 0, [2]uint64{}
	return p
}

// batchFull reports whether the batch reached its record or byte cap.
func (f *Follower) batchFull() bool {
	return f.out.Len() >= f.set.MaxBatch || (f.set.MaxBatchBytes > 0 && f.out.Bytes() >= f.set.MaxBatchBytes)
}

// emit adds a line to the batch.
func (f *Follower) emit(l line.Line, observed pcommon.Timestamp) {
	if f.out.Len() == 0 {
		f.batchTS, f.batchNewest = 0, 0
		if f.resourceChanged.Swap(false) {
			f.out.SetResource(f.set.Resource(*f.info.Load()))
		}
	}
	if f.batchTS == 0 {
		f.batchTS = l.Timestamp // the oldest line with a timestamp
	}
	f.batchNewest = max(f.batchNewest, l.Timestamp)
	f.out.Append(l, observed)
	f.counts[cursor.StreamIndex(uint8(l.Stream))]++
	if l.Parts > 1 {
		f.merged++
	}
	if l.Truncated {
		f.truncated++
	}
}

// flush hands the batch to the consumer, retrying refusals with backoff
// until ctx ends; the position advances only once the consumer accepted.
// A permanent error drops the batch (counted and logged).
func (f *Follower) flush(ctx context.Context) error {
	n := f.out.Len()
	if n == 0 {
		return nil
	}
	tel := f.set.Telemetry
	bg := context.WithoutCancel(ctx)
	ld := f.out.Take()
	pos := f.tracker.Position()
	tel.DockerlogsrotatingLinesRead.Add(bg, f.counts[0], stdoutAttr)
	tel.DockerlogsrotatingLinesRead.Add(bg, f.counts[1], stderrAttr)
	if f.merged > 0 {
		tel.DockerlogsrotatingLinesMerged.Add(bg, f.merged)
	}
	if f.truncated > 0 {
		tel.DockerlogsrotatingLinesTruncated.Add(bg, f.truncated)
	}
	f.counts, f.merged, f.truncated = [2]int64{}, 0, 0

	deliver := f.set.Deliver
	if deliver == nil {
		deliver = bg
	}
	var wait time.Duration
	for {
		octx := f.set.ObsReport.StartLogsOp(deliver)
		err := f.set.Consumer.ConsumeLogs(octx, ld)
		f.set.ObsReport.EndLogsOp(octx, "docker", n, err)
		if err != nil && deliver.Err() != nil {
			// Shutdown gave up on a consumer that blocked: these lines
			// were not accepted, so the position stays before them.
			return deliver.Err()
		}
		f.lag.refused.Store(err != nil && !consumererror.IsPermanent(err))
		if err == nil {
			f.commit(pos)
			now := time.Now().UnixNano()
			if f.batchTS > 0 {
				tel.DockerlogsrotatingEmitLag.Record(bg, float64(now-f.batchTS)/1e9)
			}
			if f.batchNewest > 0 {
				f.lag.seen(now, f.batchNewest)
			}
			return nil
		}
		if consumererror.IsPermanent(err) {
			f.commit(pos)
			tel.DockerlogsrotatingRecordsDropped.Add(bg, int64(n))
			tel.DockerlogsrotatingStreamErrors.Add(bg, 1, errorConsumer.Attr())
			f.dropped += int64(n)
			if now := time.Now(); now.Sub(f.droppedLogged) >= dropLogInterval {
				// Once per interval per container: a consumer that rejects
				// everything would otherwise log every batch.
				f.set.Logger.Error("next consumer rejected log records permanently; dropped them",
					zap.String("container.id", f.id), zap.Int64("records_since_last_report", f.dropped), zap.Error(err))
				f.dropped, f.droppedLogged = 0, now
			}
			return nil
		}
		wait = f.set.Backoff.Next(wait)
		if !backoff.Sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// commit records that the consumer accepted everything before p.
func (f *Follower) commit(p cursor.Position) {
	f.committed.Store(&p)
	if f.set.Positions != nil {
		f.set.Positions.Commit(f.id, checkpoint.Entry{Position: p, RunRead: runNanos(f.readRun)})
	}
}

// startPosition decides where reading begins: the position the group gave,
// or the end of the log. At the end, it asks the daemon for the last message (tail=1, a
// short request) and starts just after it. The position is anchored on that
// message, so later reopens can use a tail window instead of a full scan.
func (f *Follower) startPosition(ctx context.Context) (cursor.Position, error) {
	if !f.start.AtEnd {
		return f.start.Position, nil
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := f.info.Load()
	body, err := f.set.API.ContainerLogs(rctx, f.id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Timestamps: true, Tail: "1",
	})
	if err != nil {
		return cursor.Position{}, wrap("read last log line", *c, err)
	}
	defer body.Close()
	dec := newDecoder(*c, body, f.set.Mode())
	var last cursor.Fingerprint
	for {
		fr, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return cursor.Position{}, wrap("read last log line", *c, err)
		}
		if fr.Timestamp >= last.Timestamp {
			last = cursor.FingerprintOf(fr.Timestamp, uint8(fr.Stream), fr.Partial, fr.Payload)
		}
	}
	if f.set.Mode() == cursor.SinceAfter {
		return f.endAfter(rctx, *c, last.Timestamp)
	}
	return endPosition(last), nil
}

// endPosition is the position just after last, the log's last message.
func endPosition(last cursor.Fingerprint) cursor.Position {
	switch {
	case last.Timestamp == 0:
		// An empty log: everything it will hold is new.
		return cursor.Position{}
	case last.Partial:
		// The rest of its line shares nothing a replay could confirm:
		// skip by time, and the later reopens scan (TailSafe is false).
		return cursor.Position{Since: last.Timestamp + 1, MaxTimestamp: last.Timestamp}
	}
	// Since at its stamp re-sends it first (both since modes), as the
	// one message to skip.
	return cursor.Position{Since: last.Timestamp, Skip: 1, Anchor: last, MaxTimestamp: last.Timestamp}
}

// maxTailWindow is the largest tail window asked for; past it a reopen
// reads with since alone. Growing the window keeps the daemon's work in
// proportion to how far the reader is behind, not to the log's size. A
// position Docker rotated away shows as a larger window that starts at the
// same message as the one before (cursor.Replay reports the gap then).
const maxTailWindow = 1 << 20

// tailWindow is the tail asked for at a position that must skip skip
// messages, after misses windows in a row missed it: base (at least twice
// skip) times 4 per miss, or 0 (no tail) past maxTailWindow.
func tailWindow(base, skip uint64, misses int) uint64 {
	w := max(base, 2*skip)
	for range misses {
		if w > maxTailWindow/4 {
			return 0
		}
		w *= 4
	}
	return w
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

// idleBufferSize is what a quiet stream's decoder and assembler keep of
// buffers that long lines grew.
const idleBufferSize = 64 << 10

// dropLogInterval spaces the log lines about permanently rejected batches.
const dropLogInterval = time.Minute

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
