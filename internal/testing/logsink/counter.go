package logsink

import (
	"context"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Counter is a consumer for benchmarks: it only counts records and calls,
// and closes Done once it has seen Target records. Make it with NewCounter.
type Counter struct {
	Records, Calls atomic.Int64
	Target         int64

	done chan struct{}
	once sync.Once
}

var _ consumer.Logs = (*Counter)(nil)

// NewCounter returns a Counter whose Done closes at target records.
func NewCounter(target int64) *Counter {
	return &Counter{Target: target, done: make(chan struct{})}
}

// Done is closed once Target records arrived.
func (c *Counter) Done() <-chan struct{} { return c.done }

// Capabilities says the counter does not mutate data.
func (*Counter) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

// ConsumeLogs counts ld; safe for concurrent callers.
func (c *Counter) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	c.Calls.Add(1)
	if c.Records.Add(int64(ld.LogRecordCount())) >= c.Target {
		c.once.Do(func() { close(c.done) })
	}
	return nil
}
