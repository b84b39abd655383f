package checkpoint

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
)

// batchClient is a memClient that reports every Batch (the keys it wrote or
// deleted, and its error) on batches, and fails while fail is set.
type batchClient struct {
	*memClient
	batches chan batchCall

	mu   sync.Mutex
	fail error
}

type batchCall struct {
	keys []string
	err  error
}

func newBatchClient() *batchClient {
	return &batchClient{memClient: newMem(), batches: make(chan batchCall, 100)}
}

func (c *batchClient) setFail(err error) {
	c.mu.Lock()
	c.fail = err
	c.mu.Unlock()
}

func (c *batchClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	c.mu.Lock()
	err := c.fail
	c.mu.Unlock()
	if err == nil {
		err = c.memClient.Batch(ctx, ops...)
	}
	keys := make([]string, 0, len(ops))
	for _, op := range ops {
		keys = append(keys, op.Key)
	}
	slices.Sort(keys)
	c.batches <- batchCall{keys, err}
	return err
}

// next returns the next Batch call.
func (c *batchClient) next(t *testing.T) batchCall {
	t.Helper()
	select {
	case b := <-c.batches:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no write to the store")
		return batchCall{}
	}
}

// none fails if a Batch call was made that next did not take.
func (c *batchClient) none(t *testing.T, when string) {
	t.Helper()
	select {
	case b := <-c.batches:
		t.Fatalf("%s: the store was written %v", when, b.keys)
	default:
	}
}

// fakeClock stands in for time.After: the saver's interval ends when the
// test fires it.
type fakeClock struct {
	waits chan time.Duration // each interval the saver waits for
	fires chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{waits: make(chan time.Duration, 100), fires: make(chan time.Time)}
}

func (c *fakeClock) after(d time.Duration) <-chan time.Time {
	c.waits <- d
	return c.fires
}

// waiting blocks until the saver waits for its interval to end.
func (c *fakeClock) waiting(t *testing.T) {
	t.Helper()
	select {
	case <-c.waits:
	case <-time.After(10 * time.Second):
		t.Fatal("the saver does not wait for its interval")
	}
}

func (c *fakeClock) fire() { c.fires <- time.Now() }

func at(since int64) Entry { return Entry{Position: cursor.Position{Since: since}} }

// newTestSaver returns a saver on a fresh store over client, whose
// interval (one second) ends when clock fires; it is closed when the test
// ends.
func newTestSaver(t *testing.T, client storage.Client, clock *fakeClock) (*Saver, *Store) {
	t.Helper()
	store, err := Open(context.Background(), client, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s := newSaver(store, zap.NewNop(), time.Second, clock.after)
	t.Cleanup(func() { _ = s.Close() })
	return s, store
}

// inInterval returns a test saver that wrote a (at 1) and now waits for
// its interval to end, its store, client and clock.
func inInterval(t *testing.T) (*Saver, *Store, *batchClient, *fakeClock) {
	t.Helper()
	cl, clock := newBatchClient(), newFakeClock()
	s, store := newTestSaver(t, cl, clock)
	s.Commit("a", at(1))
	cl.next(t)
	clock.waiting(t)
	return s, store, cl, clock
}

func loaded(t *testing.T, store *Store, id string) (Entry, bool) {
	t.Helper()
	e, ok, err := store.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return e, ok
}

func TestSaverCoalescesCommitsWithinTheInterval(t *testing.T) {
	cl, clock := newBatchClient(), newFakeClock()
	s, store := newTestSaver(t, cl, clock)

	s.Commit("a", at(1))
	if got, want := cl.next(t).keys, []string{"container/a", "index"}; !slices.Equal(got, want) {
		t.Fatalf("first write %v, want %v: the first commit is written at once", got, want)
	}
	clock.waiting(t)
	s.Commit("a", at(2))
	s.Commit("b", at(1))
	s.Commit("a", at(3))
	cl.none(t, "during the interval")

	clock.fire()
	if got, want := cl.next(t).keys, []string{"container/a", "container/b", "index"}; !slices.Equal(got, want) {
		t.Fatalf("write after the interval %v, want %v (one write for three commits)", got, want)
	}
	if e, _ := loaded(t, store, "a"); e != at(3) {
		t.Fatalf("saved %+v, want the last commit %+v", e, at(3))
	}
	clock.waiting(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cl.none(t, "Close with nothing pending")
}

func TestSaverCloseWritesWhatIsPending(t *testing.T) {
	s, store, cl, _ := inInterval(t)
	s.Commit("b", at(5))
	cl.none(t, "during the interval")

	if err := s.Close(); err != nil { // the interval never ends: Close writes
		t.Fatal(err)
	}
	if got, want := cl.next(t).keys, []string{"container/b", "index"}; !slices.Equal(got, want) {
		t.Fatalf("Close wrote %v, want %v", got, want)
	}
	if e, ok := loaded(t, store, "b"); !ok || e != at(5) {
		t.Fatalf("after Close b is %+v (found %v), want %+v", e, ok, at(5))
	}
	s.Commit("c", at(1)) // after Close: not written, and no panic
	cl.none(t, "a commit after Close")
}

func TestSaverCloseReturnsTheLastWriteError(t *testing.T) {
	s, _, cl, _ := inInterval(t)
	full := errors.New("disk full")
	cl.setFail(full)
	s.Commit("a", at(2))
	if err := s.Close(); !errors.Is(err, full) {
		t.Fatalf("Close returned %v, want %v", err, full)
	}
}

func TestSaverRemoveAfterCommitDeletes(t *testing.T) {
	s, store, cl, clock := inInterval(t)

	s.Remove("a") // saved: deleted
	s.Commit("b", at(1))
	s.Remove("b") // pending only: never written
	clock.fire()
	if got, want := cl.next(t).keys, []string{"container/a", "container/b", "index"}; !slices.Equal(got, want) {
		t.Fatalf("write after the removals %v, want the deletion of a and b and the index", got)
	}
	for _, id := range []string{"a", "b"} {
		if _, ok := loaded(t, store, id); ok || store.Has(id) {
			t.Fatalf("%s is still saved after Remove", id)
		}
	}
}

// TestSaverRetriesAFailedWriteWithoutACommit: a container that went quiet
// commits nothing more, yet its accepted position must reach the store
// once the store works again.
func TestSaverRetriesAFailedWriteWithoutACommit(t *testing.T) {
	cl, clock := newBatchClient(), newFakeClock()
	s, store := newTestSaver(t, cl, clock)
	cl.setFail(errors.New("disk full"))
	s.Commit("a", at(1))
	if b := cl.next(t); b.err == nil {
		t.Fatal("the write did not fail")
	}
	clock.waiting(t)
	cl.setFail(nil)
	clock.fire()
	if b := cl.next(t); b.err != nil || !slices.Contains(b.keys, "container/a") {
		t.Fatalf("retry wrote %v, %v; want container/a", b.keys, b.err)
	}
	if e, ok := loaded(t, store, "a"); !ok || e != at(1) {
		t.Errorf("a saved as %+v (found %v), want %+v", e, ok, at(1))
	}
}

func TestSaverRetriesAFailedWriteWithTheNextCommit(t *testing.T) {
	cl := newBatchClient()
	store, err := Open(context.Background(), cl, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.WarnLevel)
	s := NewSaver(store, zap.New(core), 0)
	defer s.Close()

	full := errors.New("disk full")
	cl.setFail(full)
	s.Commit("a", at(1))
	if b := cl.next(t); b.err == nil {
		t.Fatal("the write did not fail")
	}
	s.Commit("b", at(1))
	s.Commit("a", at(2))
	for b := cl.next(t); !slices.Contains(b.keys, "container/b"); b = cl.next(t) {
	}
	cl.setFail(nil)
	s.Commit("c", at(1))
	for b := cl.next(t); b.err != nil; b = cl.next(t) {
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]Entry{"a": at(2), "b": at(1), "c": at(1)} {
		if e, ok := loaded(t, store, id); !ok || e != want {
			t.Errorf("%s saved as %+v (found %v), want %+v: failed writes are retried with the next", id, e, ok, want)
		}
	}
	if n := logs.FilterMessageSnippet("cannot save log positions").Len(); n != 1 {
		t.Errorf("%d warnings for consecutive failed writes, want 1", n)
	}
}
