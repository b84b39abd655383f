package logsink

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
)

func logs(name string, bodies ...string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("container.name", name)
	sl := rl.ScopeLogs().AppendEmpty()
	for _, b := range bodies {
		lr := sl.LogRecords().AppendEmpty()
		lr.Body().SetStr(b)
		lr.Attributes().PutStr("log.iostream", "stdout")
	}
	return ld
}

func TestSinkRecordsAndWaits(t *testing.T) {
	var s Sink
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.WaitFor(ctx, 3)
	}()
	if err := s.ConsumeLogs(context.Background(), logs("c1", "a", "b")); err != nil {
		t.Fatal(err)
	}
	if err := s.ConsumeLogs(context.Background(), logs("c1", "c")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	recs := s.Records()
	if len(recs) != 3 || recs[2].Body != "c" || recs[0].Container != "c1" || recs[0].Stream != "stdout" || s.Batches() != 2 {
		t.Fatalf("unexpected records %+v (batches %d)", recs, s.Batches())
	}
}

func TestSinkRefuses(t *testing.T) {
	boom := errors.New("full")
	s := Sink{Refuse: func() error { return boom }}
	if err := s.ConsumeLogs(context.Background(), logs("c1", "a")); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if len(s.Records()) != 0 {
		t.Fatal("a refused batch was recorded")
	}
}

func TestCounterClosesDoneOnceAtTarget(t *testing.T) {
	c := NewCounter(3)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	rl.AppendEmpty()
	rl.AppendEmpty()
	_ = c.ConsumeLogs(context.Background(), ld)
	select {
	case <-c.Done():
		t.Fatal("Done closed at 2 of 3 records")
	default:
	}
	_ = c.ConsumeLogs(context.Background(), ld)
	_ = c.ConsumeLogs(context.Background(), ld) // past the target: no second close
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed at 4 of 3 records")
	}
	if c.Records.Load() != 6 || c.Calls.Load() != 3 {
		t.Errorf("records %d calls %d, want 6 and 3", c.Records.Load(), c.Calls.Load())
	}
}
