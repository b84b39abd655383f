// Package logsink is a test consumer: it records what a receiver delivers,
// checks self-verifying lines with seqcheck, and can refuse batches to
// simulate backpressure.
package logsink // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
)

// Record is one delivered log record, flattened.
type Record struct {
	Container string // container.name
	ID        string // container.id
	Stream    string // log.iostream
	Body      string
	Timestamp int64
	Attrs     map[string]any
}

// Sink implements consumer.Logs. The zero value is ready; set Refuse before
// use to make ConsumeLogs fail.
type Sink struct {
	Checker seqcheck.Checker
	// Refuse, when set, is asked before each batch; a non-nil error is
	// returned to the receiver and the batch is not recorded.
	Refuse func() error

	mu      sync.Mutex
	records []Record
	batches int
	changed chan struct{}
}

var _ consumer.Logs = (*Sink)(nil)

// Capabilities says the sink does not mutate data.
func (s *Sink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

// ConsumeLogs records every record of ld.
func (s *Sink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	if s.Refuse != nil {
		if err := s.Refuse(); err != nil {
			return err
		}
	}
	var recs []Record
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes()
		name, id := "", ""
		if v, ok := res.Get("container.name"); ok {
			name = v.Str()
		}
		if v, ok := res.Get("container.id"); ok {
			id = v.Str()
		}
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				r := Record{Container: name, ID: id, Body: lr.Body().AsString(), Timestamp: int64(lr.Timestamp()), Attrs: lr.Attributes().AsRaw()}
				if v, ok := lr.Attributes().Get("log.iostream"); ok {
					r.Stream = v.Str()
				}
				recs = append(recs, r)
			}
		}
	}
	for _, r := range recs {
		s.Checker.Add(r.Container, r.Stream, r.Body)
	}
	s.mu.Lock()
	s.records = append(s.records, recs...)
	s.batches++
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	s.mu.Unlock()
	return nil
}

// Records returns a copy of everything delivered so far.
func (s *Sink) Records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.records...)
}

// Batches is the number of accepted ConsumeLogs calls.
func (s *Sink) Batches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batches
}

// WaitFor blocks until at least n records arrived or ctx ends.
func (s *Sink) WaitFor(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		if len(s.records) >= n {
			s.mu.Unlock()
			return nil
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
