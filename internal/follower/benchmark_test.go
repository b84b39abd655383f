package follower

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/pool"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
)

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
			sink := logsink.NewCounter(int64(b.N))
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
			defer func() { cancel(); writers.Wait() }() // also when the benchmark fails
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
			case <-sink.Done():
			case <-time.After(10 * time.Minute):
				b.Fatalf("%d of %d lines delivered", sink.Records.Load(), b.N)
			}
			cpu := processCPU() - c0
			b.StopTimer()
			n := float64(sink.Records.Load())
			b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-us/line")
			b.ReportMetric(n/float64(sink.Calls.Load()), "lines/call")
		})
	}
}
