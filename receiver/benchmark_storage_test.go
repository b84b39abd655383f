package receiver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/storetest"
)

// BenchmarkReceiverStorage measures what saving positions costs the backlog
// of BenchmarkReceiverFakeDaemon (benchLines 100-byte lines, fake daemon in
// process): each op reads it with a fresh receiver three times in turn,
// without storage ("off"), with a file storage extension (internal/
// storetest: one file per key, fsynced, like file_storage with fsync: true)
// writing after every accepted batch ("batch": a save interval of 0), and
// with the receiver's save interval ("cadence"). Metrics per line: wall ns,
// process CPU ns and heap allocations of each, and the writes to the store
// per op (each one a batch of the changed entries and the index).
func BenchmarkReceiverStorage(b *testing.B) {
	d, _ := benchBacklog(b)
	cadence := positionSaveInterval
	defer func() { positionSaveInterval = cadence }()
	modes := []struct {
		name     string
		storage  bool
		interval time.Duration
	}{
		{"off", false, 0},
		{"batch", true, 0},
		{"cadence", true, cadence},
	}
	phases := make([]phase, len(modes))
	writes := make([]int64, len(modes))
	id0 := component.MustNewID("file_storage")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i, m := range modes {
			var host component.Host
			mod := func(*Config) {}
			ext := &benchCountingStorage{Extension: storetest.NewFileExtension(b.TempDir())}
			if m.storage {
				host = storetest.Host(map[component.ID]component.Component{id0: ext})
				mod = func(c *Config) { c.Storage = &id0 }
			}
			positionSaveInterval = m.interval
			benchReceive(b, d.Endpoint(), benchLines, &phases[i], mod, host)
			writes[i] += ext.batches.Load()
			b.StartTimer()
		}
	}
	per := func(v float64) float64 { return v / float64(b.N) / benchLines }
	for i, m := range modes {
		b.ReportMetric(per(float64(phases[i].wall)), m.name+"-ns/line")
		b.ReportMetric(per(float64(phases[i].cpu)), m.name+"-cpu-ns/line")
		b.ReportMetric(per(float64(phases[i].mallocs)), m.name+"-allocs/line")
		if m.storage {
			b.ReportMetric(float64(writes[i])/float64(b.N), m.name+"-writes/op")
		}
	}
}

// benchCountingStorage counts the Batch calls of its clients.
type benchCountingStorage struct {
	storage.Extension
	batches atomic.Int64
}

func (e *benchCountingStorage) GetClient(ctx context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	c, err := e.Extension.GetClient(ctx, kind, id, name)
	if err != nil {
		return nil, err
	}
	return &benchCountingClient{Client: c, n: &e.batches}, nil
}

type benchCountingClient struct {
	storage.Client
	n *atomic.Int64
}

func (c *benchCountingClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	c.n.Add(1)
	return c.Client.Batch(ctx, ops...)
}
