package checkpoint

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/lifecycle"
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
	if !s.LastWrite().IsZero() {
		t.Fatalf("a new store was last written at %v", s.LastWrite())
	}
	p := cursor.Position{Since: 5, Skip: 2, Anchor: cursor.Fingerprint{Timestamp: 5, Stream: 1, Len: 3, CRC: 9}, SkipLines: 1, MaxTimestamp: 7,
		Discarding: [2]cursor.Discard{{}, {On: true, Timestamp: 6}}}
	e := Entry{Position: p, RunRead: 42}
	s.now = func() time.Time { return time.Unix(1_000_000, 0) }
	if err := s.Save(ctx, map[string]Entry{"a": e, "b": {Position: cursor.Position{Since: 1}}}); err != nil {
		t.Fatal(err)
	}
	// A new Store over the same data (a restarted collector) sees it.
	s2, err := Open(ctx, mem, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.LastWrite(); !got.Equal(time.Unix(1_000_000, 0)) {
		t.Fatalf("LastWrite = %v, want the time of the last save", got)
	}
	if !s2.Has("a") || s2.Has("missing") {
		t.Fatal("Has does not match what was saved")
	}
	got, ok, err := s2.Load(ctx, "a")
	if err != nil || !ok || got != e {
		t.Fatalf("Load = %+v, %v, %v; want %+v", got, ok, err, e)
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

// A position saved before entries had RunRead still loads.
func TestLoadsPositionsOfEarlierVersions(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	mem.data[keyPrefix+"a"] = []byte(`{"since":5,"skip":2,"anchor":{"ts":5,"s":1,"n":3,"c":9},"max_ts":7}`)
	mem.data[indexKey] = []byte(`{"a":1000}`)
	s, err := Open(ctx, mem, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Load(ctx, "a")
	want := Entry{Position: cursor.Position{Since: 5, Skip: 2, Anchor: cursor.Fingerprint{Timestamp: 5, Stream: 1, Len: 3, CRC: 9}, MaxTimestamp: 7}}
	if err != nil || !ok || got != want {
		t.Fatalf("Load = %+v, %v, %v; want %+v", got, ok, err, want)
	}
}

// Reconcile deletes the entries of containers that are gone, keeps those of
// selected containers however long they were quiet, and prunes those of
// containers no longer selected after the retention.
func TestReconcileCountsPresenceNotSilence(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	s, _ := Open(ctx, mem, time.Hour)
	s.now = func() time.Time { return time.Unix(1_000_000, 0) }
	for _, id := range []string{"quiet", "gone", "unselected-old"} {
		_ = s.Save(ctx, map[string]Entry{id: {Position: cursor.Position{Since: 1}}})
	}
	s.now = func() time.Time { return time.Unix(1_000_000+3000, 0) }
	_ = s.Save(ctx, map[string]Entry{"unselected-recent": {Position: cursor.Position{Since: 2}}})

	later := time.Unix(1_000_000+3600+1800, 0) // 1.5 h after the first three, 40 min after the last
	reopened, err := Open(ctx, mem, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !reopened.Has("quiet") {
		t.Fatal("Open pruned before knowing which containers exist")
	}
	reopened.now = func() time.Time { return later }
	exists := func(id string) bool { return id != "gone" }
	selected := func(id string) bool { return id == "quiet" }
	if err := reopened.Reconcile(ctx, exists, selected); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"quiet": true, "gone": false, "unselected-old": false, "unselected-recent": true} {
		if _, ok, _ := reopened.Load(ctx, id); ok != want {
			t.Errorf("%s: kept %v, want %v", id, ok, want)
		}
	}
	// The quiet one was seen now: a collector opening the store later sees
	// that time, and the retention counts from it.
	again, _ := Open(ctx, mem, time.Hour)
	if got := again.LastWrite(); !got.Equal(later) {
		t.Fatalf("LastWrite after Reconcile = %v, want %v", got, later)
	}
}

func TestStorageErrorsAreReturned(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	s, _ := Open(ctx, mem, time.Hour)
	mem.fail = errors.New("disk full")
	if err := s.Save(ctx, map[string]Entry{"a": {}}); err == nil {
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

// heldIndexClient holds the first write of the index alone (Reconcile's)
// until release is closed.
type heldIndexClient struct {
	*memClient
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (c *heldIndexClient) Set(ctx context.Context, k string, v []byte) error {
	if k == indexKey {
		c.once.Do(func() { close(c.entered); <-c.release })
	}
	return c.memClient.Set(ctx, k, v)
}

// A listing's index write that is slow must not land after a Save made
// meanwhile: the saved container would vanish from the index, and the next
// collector would not find its position (seen as whole logs read twice).
func TestReconcileDoesNotHideAConcurrentSave(t *testing.T) {
	ctx := context.Background()
	c := &heldIndexClient{memClient: newMem(), entered: make(chan struct{}), release: make(chan struct{})}
	s, err := Open(ctx, c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	all := func(string) bool { return true }
	reconciled := make(chan error, 1)
	go func() { reconciled <- s.Reconcile(ctx, all, all) }()
	<-c.entered
	saved := make(chan error, 1)
	go func() { saved <- s.Save(ctx, map[string]Entry{"x": {Position: cursor.Position{Since: 3}}}) }()
	// A Save that is not held back finishes at once; give it the chance.
	select {
	case err := <-saved:
		saved <- err
	case <-time.After(50 * time.Millisecond):
	}
	close(c.release)
	if err := <-reconciled; err != nil {
		t.Fatal(err)
	}
	if err := <-saved; err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, c.memClient, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Has("x") {
		t.Fatal("the reopened store lost the entry saved during a listing")
	}
}

// The lifecycle event position has a key of its own: no container's entry,
// untouched by reconciling and deleting containers, and read back by a
// restarted collector.
func TestLifecyclePositionSurvivesReconcileAndRestart(t *testing.T) {
	ctx := context.Background()
	mem := newMem()
	s, err := Open(ctx, mem, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.LoadLifecycle(ctx); ok || err != nil {
		t.Fatalf("a new store has a lifecycle position (%v)", err)
	}
	want := lifecycle.Position{Since: 1_700_000_000_000_000_001, Seen: []lifecycle.Mark{{Time: 1_700_000_000_500_000_000, Key: "9f"}}}
	if err := s.SaveLifecycle(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, map[string]Entry{"a": {}}); err != nil {
		t.Fatal(err)
	}
	none := func(string) bool { return false }
	if err := s.Reconcile(ctx, none, none); err != nil {
		t.Fatal(err)
	}
	if ids := s.IDs(); len(ids) != 0 {
		t.Fatalf("entries %v left after every container is gone", ids)
	}
	s2, err := Open(ctx, mem, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := s2.LoadLifecycle(ctx)
	if err != nil || !ok || got.Since != want.Since || len(got.Seen) != 1 || got.Seen[0] != want.Seen[0] {
		t.Fatalf("LoadLifecycle = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	mem.data[lifecycleKey] = []byte("{")
	if _, _, err := s2.LoadLifecycle(ctx); err == nil {
		t.Fatal("a damaged lifecycle position loads")
	}
}
