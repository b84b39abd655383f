package follower

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/fakedocker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/pool"
)

// countingConsumer counts records and calls and signals when it has seen
// target records.
type countingConsumer struct {
	records, calls atomic.Int64
	target         int64
	done           chan struct{}
	once           sync.Once
}

func (c *countingConsumer) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	c.calls.Add(1)
	if c.records.Add(int64(ld.LogRecordCount())) >= c.target {
		c.once.Do(func() { close(c.done) })
	}
	return nil
}

func (*countingConsumer) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTrickle is the steady-load case: 20 containers each write a
// 100-byte line every 10 ms (2,000 lines/s in all), so the reader is
// always caught up and each line arrives alone. It compares SlowStreamPause 0
// (a ConsumeLogs per read, the baseline) with the receiver's 100 ms. An op
// is one delivered line; cpu-us/line is the whole process's CPU, the
// in-process fake daemon's included (the same in both), so the ratio of
// the two understates the receiver's own saving.
func BenchmarkTrickle(b *testing.B) {
	for _, pause := range []time.Duration{0, 100 * time.Millisecond} {
		b.Run(fmt.Sprintf("pause=%v", pause), func(b *testing.B) {
			const containers, every = 20, 10 * time.Millisecond
			h := newHarness(b, modern)
			h.set.RotationInterval = 0
			h.set.Pool = pool.New(containers)
			h.set.SlowStreamPause = pause
			sink := &countingConsumer{target: int64(b.N), done: make(chan struct{})}
			h.set.Consumer = sink
			h.set.Logger = zap.NewNop()
			g := h.group()
			var ids []string
			for i := range containers {
				id := h.add(fakedocker.Container{Name: fmt.Sprintf("c%d", i)})
				ids = append(ids, id)
				g.Upsert(h.inspect(id), false)
			}
			h.api.waitOpens(b, containers)

			ctx, cancel := context.WithCancel(b.Context())
			var writers sync.WaitGroup
			line := strings.Repeat("x", 100)
			for _, id := range ids {
				writers.Go(func() {
					t := time.NewTicker(every)
					defer t.Stop()
					for {
						select {
						case <-t.C:
							h.d.WriteLines(id, fakedocker.Stdout, line)
						case <-ctx.Done():
							return
						}
					}
				})
			}
			b.ResetTimer()
			c0 := processCPU()
			select {
			case <-sink.done:
			case <-time.After(10 * time.Minute):
				b.Fatalf("%d of %d lines delivered", sink.records.Load(), b.N)
			}
			cpu := processCPU() - c0
			b.StopTimer()
			cancel()
			writers.Wait()
			n := float64(sink.records.Load())
			b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-us/line")
			b.ReportMetric(n/float64(sink.calls.Load()), "lines/call")
		})
	}
}
