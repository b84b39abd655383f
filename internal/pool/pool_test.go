package pool

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// failAfter bounds every blocking receive in these tests: a bug shows up as
// a failure naming the step instead of a hung test binary. It is a deadline,
// never a synchronisation sleep.
const failAfter = 10 * time.Second

// newTestPool returns a pool whose enqueue hook signals on the returned
// channel, so tests know a goroutine is queued without polling or sleeping.
func newTestPool(capacity int, opts ...Option) (*Pool, <-chan struct{}) {
	p := New(capacity, opts...)
	enq := make(chan struct{}, 1<<14)
	p.onEnqueue = func() {
		select {
		case enq <- struct{}{}:
		default:
		}
	}
	return p, enq
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(failAfter):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func mustAcquire(t *testing.T, p *Pool) *Slot {
	t.Helper()
	s, wait, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	if wait != 0 {
		t.Fatalf("uncontended Acquire waited %v", wait)
	}
	return s
}

type result struct {
	id   int
	slot *Slot
	err  error
}

// acquireAsync starts an Acquire in a goroutine, returns once it is queued,
// and delivers the outcome on out.
func acquireAsync(t *testing.T, ctx context.Context, p *Pool, enq <-chan struct{}, id int, out chan<- result) {
	t.Helper()
	go func() {
		s, _, err := p.Acquire(ctx)
		out <- result{id: id, slot: s, err: err}
	}()
	recv(t, enq, "waiter to enqueue")
}

func checkCounts(t *testing.T, p *Pool, inUse, waiting int) {
	t.Helper()
	if got := p.InUse(); got != inUse {
		t.Errorf("InUse = %d, want %d", got, inUse)
	}
	if got := p.Waiting(); got != waiting {
		t.Errorf("Waiting = %d, want %d", got, waiting)
	}
}

func TestFIFOOrder(t *testing.T) {
	p, enq := newTestPool(1)
	first := mustAcquire(t, p)

	const n = 8
	out := make(chan result, n)
	for i := range n {
		acquireAsync(t, context.Background(), p, enq, i, out)
	}
	checkCounts(t, p, 1, n)

	first.Release()
	for want := range n {
		r := recv(t, out, "grant")
		if r.err != nil || r.id != want {
			t.Fatalf("grant %d went to waiter %d (err %v)", want, r.id, r.err)
		}
		checkCounts(t, p, 1, n-want-1)
		r.slot.Release()
	}
	checkCounts(t, p, 0, 0)
}

// TestNoBarging checks the hand-over: a slot released to a waiter that has
// not woken yet is not up for grabs by a newcomer.
func TestNoBarging(t *testing.T) {
	p, enq := newTestPool(1)
	holder := mustAcquire(t, p)

	out := make(chan result, 2)
	acquireAsync(t, context.Background(), p, enq, 1, out)
	holder.Release()
	checkCounts(t, p, 1, 0) // handed over, not freed

	// The newcomer must queue even though the first waiter may still be
	// asleep.
	acquireAsync(t, context.Background(), p, enq, 2, out)
	r := recv(t, out, "first waiter")
	if r.id != 1 {
		t.Fatalf("newcomer %d overtook the waiter", r.id)
	}
	checkCounts(t, p, 1, 1)
	r.slot.Release()
	r = recv(t, out, "newcomer")
	if r.id != 2 || r.err != nil {
		t.Fatalf("got %d, %v", r.id, r.err)
	}
	r.slot.Release()
	checkCounts(t, p, 0, 0)
}

func TestYieldWithoutWaitersKeepsSlot(t *testing.T) {
	p, _ := newTestPool(1)
	s := mustAcquire(t, p)
	wait, err := s.Yield(context.Background())
	if err != nil || wait != 0 {
		t.Fatalf("Yield = %v, %v; want 0, nil", wait, err)
	}
	checkCounts(t, p, 1, 0)
	s.Release()
	checkCounts(t, p, 0, 0)
}

type yieldResult struct {
	id   int
	wait time.Duration
	err  error
}

func yieldAsync(t *testing.T, ctx context.Context, s *Slot, enq <-chan struct{}, id int, out chan<- yieldResult) {
	t.Helper()
	go func() {
		w, err := s.Yield(ctx)
		out <- yieldResult{id: id, wait: w, err: err}
	}()
	recv(t, enq, "yielder to enqueue")
}

func TestYieldWithWaitersGoesToTail(t *testing.T) {
	p, enq := newTestPool(2)
	a := mustAcquire(t, p)
	c := mustAcquire(t, p)

	acq := make(chan result, 2)
	acquireAsync(t, context.Background(), p, enq, 'B', acq)
	acquireAsync(t, context.Background(), p, enq, 'D', acq)
	checkCounts(t, p, 2, 2)

	ys := make(chan yieldResult, 2)
	// A yields: B gets A's slot, A queues behind D.
	yieldAsync(t, context.Background(), a, enq, 'A', ys)
	b := recv(t, acq, "B")
	if b.id != 'B' {
		t.Fatalf("A's slot went to %c, want B", b.id)
	}
	checkCounts(t, p, 2, 2) // D, A
	// C yields: D is ahead of A.
	yieldAsync(t, context.Background(), c, enq, 'C', ys)
	d := recv(t, acq, "D")
	if d.id != 'D' {
		t.Fatalf("C's slot went to %c, want D", d.id)
	}
	checkCounts(t, p, 2, 2) // A, C

	b.slot.Release()
	if y := recv(t, ys, "A's yield"); y.id != 'A' || y.err != nil {
		t.Fatalf("after B released, %c returned (err %v), want A", y.id, y.err)
	}
	d.slot.Release()
	if y := recv(t, ys, "C's yield"); y.id != 'C' || y.err != nil {
		t.Fatalf("after D released, %c returned (err %v), want C", y.id, y.err)
	}
	checkCounts(t, p, 2, 0)
	a.Release()
	c.Release()
	checkCounts(t, p, 0, 0)
}

func TestYieldReportsWait(t *testing.T) {
	var now atomic.Int64
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	p, enq := newTestPool(1, WithClock(clock))
	a := mustAcquire(t, p)
	acq := make(chan result, 1)
	acquireAsync(t, context.Background(), p, enq, 1, acq)
	ys := make(chan yieldResult, 1)
	yieldAsync(t, context.Background(), a, enq, 0, ys)
	b := recv(t, acq, "waiter")
	now.Add(int64(7 * time.Second))
	b.slot.Release()
	if y := recv(t, ys, "yield"); y.err != nil || y.wait != 7*time.Second {
		t.Fatalf("Yield = %v, %v; want 7s, nil", y.wait, y.err)
	}
	a.Release()
}

func TestAcquireCancelWhileWaiting(t *testing.T) {
	p, enq := newTestPool(1)
	holder := mustAcquire(t, p)

	out := make(chan result, 4)
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	ctx3, cancel3 := context.WithCancel(context.Background())
	defer cancel3()
	acquireAsync(t, context.Background(), p, enq, 0, out)
	acquireAsync(t, ctx1, p, enq, 1, out)
	acquireAsync(t, context.Background(), p, enq, 2, out)
	acquireAsync(t, ctx3, p, enq, 3, out) // tail
	checkCounts(t, p, 1, 4)

	cancel1() // middle of the queue
	if r := recv(t, out, "cancelled waiter"); r.id != 1 || !errors.Is(r.err, context.Canceled) || r.slot != nil {
		t.Fatalf("got %+v, want waiter 1 cancelled", r)
	}
	checkCounts(t, p, 1, 3)
	cancel3() // tail
	if r := recv(t, out, "cancelled waiter"); r.id != 3 || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("got %+v, want waiter 3 cancelled", r)
	}
	checkCounts(t, p, 1, 2)

	holder.Release()
	for _, want := range []int{0, 2} {
		r := recv(t, out, "grant")
		if r.id != want || r.err != nil {
			t.Fatalf("grant went to %d (err %v), want %d", r.id, r.err, want)
		}
		r.slot.Release()
	}
	checkCounts(t, p, 0, 0)
}

func TestAcquireCancelHeadPassesOn(t *testing.T) {
	p, enq := newTestPool(1)
	holder := mustAcquire(t, p)
	out := make(chan result, 2)
	ctx, cancel := context.WithCancel(context.Background())
	acquireAsync(t, ctx, p, enq, 0, out)
	acquireAsync(t, context.Background(), p, enq, 1, out)
	cancel()
	if r := recv(t, out, "cancelled head"); r.id != 0 || r.err == nil {
		t.Fatalf("got %+v", r)
	}
	holder.Release()
	r := recv(t, out, "second waiter")
	if r.id != 1 || r.err != nil {
		t.Fatalf("got %+v", r)
	}
	r.slot.Release()
	checkCounts(t, p, 0, 0)
}

func TestAcquireCancelledContext(t *testing.T) {
	p := New(0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, _, err := p.Acquire(ctx)
	if s != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire = %v, %v; want nil, Canceled", s, err)
	}
	checkCounts(t, p, 0, 0)
}

// TestCancelRacingGrant drives the window where a waiter is handed a slot
// and its context ends at the same time: whichever select case wins, the
// slot must end up held by exactly one party.
func TestCancelRacingGrant(t *testing.T) {
	sawCancel, sawGrant := 0, 0
	for range 200 {
		p := New(1)
		holder, _, _ := p.Acquire(context.Background())
		p.mu.Lock()
		w1, start := p.enqueueLocked()
		w2, _ := p.enqueueLocked()
		p.mu.Unlock()

		holder.Release() // hands to w1
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := p.await(ctx, w1, start) // both cases ready
		if err != nil {
			sawCancel++
			if !w2.granted {
				t.Fatal("cancelled waiter dropped the slot it was handed")
			}
		} else {
			sawGrant++
			if w2.granted {
				t.Fatal("slot granted twice")
			}
		}
		if p.InUse() != 1 {
			t.Fatalf("InUse = %d, want 1", p.InUse())
		}
		if err == nil {
			(&Slot{p: p, held: true}).Release()
		}
		(&Slot{p: p, held: true}).Release() // w2 or its queue entry
		if p.InUse() != 0 || p.Waiting() != 0 {
			t.Fatalf("InUse = %d, Waiting = %d after releasing all", p.InUse(), p.Waiting())
		}
	}
	t.Logf("cancel won %d times, grant won %d times", sawCancel, sawGrant)
}

func TestYieldCancelWhileWaiting(t *testing.T) {
	p, enq := newTestPool(1)
	a := mustAcquire(t, p)
	acq := make(chan result, 1)
	acquireAsync(t, context.Background(), p, enq, 1, acq)

	ctx, cancel := context.WithCancel(context.Background())
	ys := make(chan yieldResult, 1)
	yieldAsync(t, ctx, a, enq, 0, ys)
	b := recv(t, acq, "waiter")
	cancel()
	if y := recv(t, ys, "yield"); !errors.Is(y.err, context.Canceled) {
		t.Fatalf("Yield err = %v, want Canceled", y.err)
	}
	checkCounts(t, p, 1, 0)
	a.Release() // no-op: a holds nothing
	checkCounts(t, p, 1, 0)
	if _, err := a.Yield(context.Background()); !errors.Is(err, ErrReleased) {
		t.Fatalf("Yield after failed Yield = %v, want ErrReleased", err)
	}
	b.slot.Release()
	checkCounts(t, p, 0, 0)
}

func TestYieldCancelledContextReleases(t *testing.T) {
	p := New(1)
	s := mustAcquire(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Yield(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Yield = %v, want Canceled", err)
	}
	checkCounts(t, p, 0, 0)
	s.Release()
	checkCounts(t, p, 0, 0)
}

func TestReleaseIdempotent(t *testing.T) {
	p := New(2)
	s1 := mustAcquire(t, p)
	s2 := mustAcquire(t, p)
	s1.Release()
	s1.Release()
	checkCounts(t, p, 1, 0)
	s3 := mustAcquire(t, p)
	s1.Release() // must not free s3's slot
	checkCounts(t, p, 2, 0)
	if _, err := s1.Yield(context.Background()); !errors.Is(err, ErrReleased) {
		t.Fatalf("Yield on released slot = %v, want ErrReleased", err)
	}
	s2.Release()
	s3.Release()
	s3.Release()
	checkCounts(t, p, 0, 0)
}

func TestCapacityZeroUnlimited(t *testing.T) {
	for _, c := range []int{0, -3} {
		p := New(c)
		if p.Capacity() != 0 {
			t.Fatalf("New(%d).Capacity() = %d, want 0", c, p.Capacity())
		}
		slots := make([]*Slot, 100)
		for i := range slots {
			slots[i] = mustAcquire(t, p)
		}
		checkCounts(t, p, 100, 0)
		for _, s := range slots {
			if w, err := s.Yield(context.Background()); err != nil || w != 0 {
				t.Fatalf("Yield = %v, %v", w, err)
			}
		}
		for _, s := range slots {
			s.Release()
		}
		checkCounts(t, p, 0, 0)
	}
}

func TestCapacity(t *testing.T) {
	if got := New(5).Capacity(); got != 5 {
		t.Fatalf("Capacity = %d, want 5", got)
	}
}

// TestStress runs followers doing random Acquire (some cancelled at random
// moments), Yield and Release under -race. It checks the cap is never
// exceeded, nothing is lost (every uncancelled call returns, counters end
// at zero).
func TestStress(t *testing.T) {
	const (
		capacity  = 3
		followers = 16
		rounds    = 300
	)
	p := New(capacity)
	var holders atomic.Int64
	var maxHolders atomic.Int64
	hold := func() {
		n := holders.Add(1)
		for {
			m := maxHolders.Load()
			if n <= m || maxHolders.CompareAndSwap(m, n) {
				break
			}
		}
		if n > capacity {
			t.Errorf("%d holders with capacity %d", n, capacity)
		}
		if u := p.InUse(); u > capacity {
			t.Errorf("InUse = %d with capacity %d", u, capacity)
		}
	}

	var wg sync.WaitGroup
	var served, cancelled atomic.Int64
	for f := range followers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(f), 42))
			for range rounds {
				ctx, cancel := context.WithCancel(context.Background())
				mayCancel := rng.IntN(4) == 0
				if mayCancel {
					go cancel() // races with queueing and hand-over
				}
				s, _, err := p.Acquire(ctx)
				if err != nil {
					if !mayCancel {
						t.Errorf("uncancelled Acquire failed: %v", err)
					}
					cancel()
					cancelled.Add(1)
					continue
				}
				served.Add(1)
				held := true
				hold()
				for range rng.IntN(4) {
					holders.Add(-1)
					held = false
					if _, err := s.Yield(ctx); err != nil {
						if !mayCancel {
							t.Errorf("uncancelled Yield failed: %v", err)
						}
						break // the slot was released
					}
					held = true
					hold()
				}
				if held {
					holders.Add(-1)
				}
				s.Release()
				s.Release()
				cancel()
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("stress did not finish: InUse=%d Waiting=%d", p.InUse(), p.Waiting())
	}
	checkCounts(t, p, 0, 0)
	if holders.Load() != 0 {
		t.Errorf("holders = %d at the end", holders.Load())
	}
	t.Logf("served %d, cancelled %d, max concurrent holders %d", served.Load(), cancelled.Load(), maxHolders.Load())
	if maxHolders.Load() > capacity {
		t.Errorf("max holders %d > capacity %d", maxHolders.Load(), capacity)
	}
}
