package pool

import (
	"context"
	"testing"
)

func BenchmarkAcquireReleaseUncontended(b *testing.B) {
	p := New(1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s, _, _ := p.Acquire(ctx)
		s.Release()
	}
}

// BenchmarkAcquireReleaseContended runs 4 goroutines per CPU over 2 slots, so
// most Acquires queue and are served by hand-over.
func BenchmarkAcquireReleaseContended(b *testing.B) {
	p := New(2)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s, _, err := p.Acquire(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			s.Release()
		}
	})
}

// BenchmarkYieldContended measures a rotation turnover when followers
// outnumber slots: every Yield hands over and queues.
func BenchmarkYieldContended(b *testing.B) {
	p := New(2)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		s, _, err := p.Acquire(ctx)
		if err != nil {
			b.Error(err)
			return
		}
		defer s.Release()
		for pb.Next() {
			if _, err := s.Yield(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
