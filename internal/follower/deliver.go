package follower

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/checkpoint"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/multiline"
)

// deliver emits a completed line, or hands it to its stream's grouping.
func (f *Follower) deliver(l line.Line, observed pcommon.Timestamp) {
	if f.groups == nil {
		f.tracker.LinesDone(l.Stream, 1)
		f.emit(l, observed)
		return
	}
	for _, r := range f.groups.add(l, time.Now()) {
		f.emitRecord(r, observed)
	}
}

// emitRecord emits a group of r.Lines lines as one record.
func (f *Follower) emitRecord(r multiline.Record, observed pcommon.Timestamp) {
	f.tracker.LinesDone(r.Stream, r.Lines)
	f.emit(r.Line, observed)
}

// batchFull reports whether the batch reached its record or byte cap.
func (f *Follower) batchFull() bool {
	return f.out.Len() >= f.set.MaxBatch || (f.set.MaxBatchBytes > 0 && f.out.Bytes() >= f.set.MaxBatchBytes)
}

// emit adds a line to the batch.
func (f *Follower) emit(l line.Line, observed pcommon.Timestamp) {
	if f.out.Len() == 0 && f.resourceChanged.Swap(false) {
		f.out.SetResource(f.set.Resource(*f.info.Load()))
	}
	f.batch.add(l)
	f.out.Append(l, observed)
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
	stats := f.batch
	f.batch = batchStats{}
	pos := f.tracker.Position()
	stats.count(bg, tel)

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
			if stats.oldest > 0 {
				tel.DockerlogsrotatingEmitLag.Record(bg, float64(now-stats.oldest)/1e9)
			}
			if stats.newest > 0 {
				f.lag.seen(now, stats.newest)
			}
			return nil
		}
		if consumererror.IsPermanent(err) {
			f.commit(pos)
			tel.DockerlogsrotatingRecordsDropped.Add(bg, int64(n))
			tel.DockerlogsrotatingStreamErrors.Add(bg, 1, errorConsumer.Attr())
			if records, ok := f.drops.add(int64(n), time.Now()); ok {
				f.set.Logger.Error("next consumer rejected log records permanently; dropped them",
					zap.String("container.id", f.id), zap.Int64("records_since_last_report", records), zap.Error(err))
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

// batchStats describes the lines of the batch being built, for the metrics
// and the lag meter once it is handed on.
type batchStats struct {
	oldest            int64    // Docker timestamp of the oldest line in the batch
	newest            int64    // that of its newest line
	lines             [2]int64 // per stream
	merged, truncated int64
}

func (b *batchStats) add(l line.Line) {
	if b.oldest == 0 {
		b.oldest = l.Timestamp // the oldest line with a timestamp
	}
	b.newest = max(b.newest, l.Timestamp)
	b.lines[l.Stream.Index()]++
	if l.Parts > 1 {
		b.merged++
	}
	if l.Truncated {
		b.truncated++
	}
}

// count adds the batch's lines to the metrics.
func (b *batchStats) count(ctx context.Context, tel *metadata.TelemetryBuilder) {
	tel.DockerlogsrotatingLinesRead.Add(ctx, b.lines[0], stdoutAttr)
	tel.DockerlogsrotatingLinesRead.Add(ctx, b.lines[1], stderrAttr)
	if b.merged > 0 {
		tel.DockerlogsrotatingLinesMerged.Add(ctx, b.merged)
	}
	if b.truncated > 0 {
		tel.DockerlogsrotatingLinesTruncated.Add(ctx, b.truncated)
	}
}

var (
	stdoutAttr = attrSet("stream", "stdout")
	stderrAttr = attrSet("stream", "stderr")
)

// dropReport spaces the log lines about records the consumer rejected
// permanently: once per dropLogInterval per container, since a consumer
// that rejects everything would otherwise log every batch.
type dropReport struct {
	records int64 // dropped since logged
	logged  time.Time
}

// dropLogInterval spaces the log lines about permanently rejected batches.
const dropLogInterval = time.Minute

// add counts n dropped records; when a report is due it returns the count
// to report, and starts counting afresh.
func (d *dropReport) add(n int64, now time.Time) (int64, bool) {
	d.records += n
	if now.Sub(d.logged) < dropLogInterval {
		return 0, false
	}
	records := d.records
	d.records, d.logged = 0, now
	return records, true
}
