package checkpoint

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
)

// memClient is a storage.Client over a map.
type memClient struct {
	mu     sync.Mutex
	data   map[string][]byte
	fail   error
	closed bool
}

func newMem() *memClient { return &memClient{data: map[string][]byte{}} }

func (m *memClient) Get(_ context.Context, k string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data[k], m.fail
}

func (m *memClient) Set(ctx context.Context, k string, v []byte) error {
	return m.Batch(ctx, storage.SetOperation(k, v))
}

func (m *memClient) Delete(ctx context.Context, k string) error {
	return m.Batch(ctx, storage.DeleteOperation(k))
}

func (m *memClient) Batch(_ context.Context, ops ...*storage.Operation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	for _, op := range ops {
		switch op.Type {
		case storage.Set:
			m.data[op.Key] = append([]byte(nil), op.Value...)
		case storage.Delete:
			delete(m.data, op.Key)
		case storage.Get:
			op.Value = m.data[op.Key]
		}
	}
	return nil
}

func (m *memClient) Close(context.Context) error { m.closed = true; return nil }

func TestSaveLoadDelete(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	s, err := Open(ctx, mem, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p := cursor.Position{Since: 5, Skip: 2, Anchor: cursor.Fingerprint{Timestamp: 5, Stream: 1, Len: 3, CRC: 9}, SkipLines: 1, MaxTimestamp: 7,
		Discarding: [2]cursor.Discard{{}, {On: true, Timestamp: 6}}}
	if err := s.Save(ctx, map[string]cursor.Position{"a": p, "b": {Since: 1}}); err != nil {
		t.Fatal(err)
	}
	// A new Store over the same data (a restarted collector) sees it.
	s2, err := Open(ctx, mem, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := s2.Load(ctx, "a")
	if err != nil || !ok || got != p {
		t.Fatalf("Load = %+v, %v, %v; want %+v", got, ok, err, p)
	}
	if _, ok, _ := s2.Load(ctx, "missing"); ok {
		t.Fatal("a missing container has a position")
	}
	if err := s2.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s2.Load(ctx, "a"); ok {
		t.Fatal("deleted position still there")
	}
	if err := s2.Close(ctx); err != nil || !mem.closed {
		t.Fatal("client not closed")
	}
}

func TestOpenPrunesContainersNotFollowedForTheRetention(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	s, _ := Open(ctx, mem, time.Hour)
	s.now = func() time.Time { return time.Unix(1_000_000, 0) }
	_ = s.Save(ctx, map[string]cursor.Position{"old": {Since: 1}})
	s.now = func() time.Time { return time.Unix(1_000_000+3000, 0) }
	_ = s.Save(ctx, map[string]cursor.Position{"recent": {Since: 2}})

	// Two hours after "old" was last followed, one after "recent".
	later := time.Unix(1_000_000+3600+1800, 0)
	reopened, err := openAt(ctx, mem, time.Hour, later)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := reopened.Load(ctx, "old"); ok {
		t.Fatal("a position older than the retention was kept")
	}
	if _, ok, _ := reopened.Load(ctx, "recent"); !ok {
		t.Fatal("a recent position was pruned")
	}
}

func TestStorageErrorsAreReturned(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	s, _ := Open(ctx, mem, time.Hour)
	mem.fail = errors.New("disk full")
	if err := s.Save(ctx, map[string]cursor.Position{"a": {}}); err == nil {
		t.Fatal("save error swallowed")
	}
	if _, err := Open(ctx, mem, time.Hour); err == nil {
		t.Fatal("open error swallowed")
	}
}

func TestDamagedEntries(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	mem.data[indexKey] = []byte("{not json")
	mem.data[keyPrefix+"a"] = []byte("garbage")
	s, err := Open(ctx, mem, time.Hour)
	if err != nil {
		t.Fatalf("a damaged index failed Open: %v", err)
	}
	if _, ok, err := s.Load(ctx, "a"); ok || err == nil {
		t.Fatal("a damaged position was not reported")
	}
}
