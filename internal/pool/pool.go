// Package pool caps how many container log streams are open at once, and
// shares that cap fairly between the containers that want a stream.
//
// Each follower goroutine holds a Slot while its stream is open. When the
// stream reaches its rotation time the follower closes it and calls
// Slot.Yield: if other followers are waiting, the slot is handed to the
// longest waiter and the yielder queues behind everyone else; if nobody
// waits it keeps the slot and reopens at once. A stopped container calls
// Slot.Release.
//
// # Fairness
//
// Waiters are served in strict FIFO order, and a freed slot is handed
// directly to the head of the queue (it never becomes "free" in between), so
// a newcomer calling Acquire can never overtake a waiter.
//
// Bound: with N followers, K slots (K < N) and every holder yielding at least
// once every R (the rotation interval including its jitter), no Acquire or
// Yield waits longer than
//
//	ceil((N-K)/K) * R
//
// Why: K followers hold slots, so at most N-K are queued and a new waiter has
// at most N-K-1 ahead of it; it is served by the (N-K)-th hand-over after it
// joins. Each of the K slots was last granted no later than the moment the
// waiter joined, and its holder yields (handing it to the head) within R of
// each grant, so every R the K slots produce at least K hand-overs, all to
// waiters already ahead of or equal to ours. After ceil((N-K)/K) rounds at
// least N-K hand-overs have happened. Releases only shorten the wait. For
// example 12 followers, 3 slots: at most 3 rotation intervals. Scheduling
// latency and the time to close a stream come on top.
//
// Capacity 0 means no cap: Acquire and Yield never wait, but InUse still
// counts the open streams (for the utilization metric).
package pool // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/pool"

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrReleased is returned by Yield on a slot that is no longer held, so a
// follower bug shows up as an error rather than as a second stream slipping
// past the cap.
var ErrReleased = errors.New("pool: slot already released")

// Option configures a Pool.
type Option func(*Pool)

// WithClock replaces time.Now for measuring waits; tests use it to check the
// fairness bound in rotations without sleeping.
func WithClock(now func() time.Time) Option {
	return func(p *Pool) { p.now = now }
}

// Pool is a FIFO-fair counting semaphore with hand-over on release. The zero
// value is not usable; call New. All methods are safe for concurrent use.
type Pool struct {
	capacity int
	now      func() time.Time

	mu    sync.Mutex
	inUse int
	// Intrusive doubly linked FIFO: O(1) enqueue, dequeue and removal of a
	// cancelled waiter from the middle, without an allocation per element.
	head, tail *waiter
	waiting    int

	// onEnqueue, when set (tests only), is called after a waiter has joined
	// the queue, so tests can sequence goroutines without sleeping.
	onEnqueue func()
}

// waiter is one blocked Acquire or Yield. ready is closed when the slot has
// been handed to it; granted records the same under Pool.mu so a cancelled
// waiter can tell whether it already owns a slot it must pass on.
type waiter struct {
	prev, next *waiter
	ready      chan struct{}
	granted    bool
}

// New returns a pool with the given number of slots; capacity <= 0 means
// unlimited.
func New(capacity int, opts ...Option) *Pool {
	if capacity < 0 {
		capacity = 0
	}
	p := &Pool{capacity: capacity, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Capacity returns the configured number of slots (0 = unlimited).
func (p *Pool) Capacity() int { return p.capacity }

// InUse returns how many slots are held (streams open or about to open),
// including slots just handed to a waiter that has not woken yet.
func (p *Pool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inUse
}

// Waiting returns how many Acquire and Yield calls are queued.
func (p *Pool) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting
}

// Acquire blocks until a slot is free and it is at the head of the queue. It
// returns the slot and how long it waited (0 when it did not block). If ctx
// ends first it returns ctx.Err(), leaves the queue as it was for the others,
// and passes on any slot that was handed to it in the meantime.
func (p *Pool) Acquire(ctx context.Context) (*Slot, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	p.mu.Lock()
	// A slot may only be taken directly when nobody queues; with hand-over
	// on release inUse < capacity implies an empty queue anyway, the check
	// just states the invariant that keeps newcomers from barging.
	if p.capacity == 0 || (p.inUse < p.capacity && p.head == nil) {
		p.inUse++
		p.mu.Unlock()
		return &Slot{p: p, held: true}, 0, nil
	}
	w, start := p.enqueueLocked()
	p.mu.Unlock()
	p.notifyEnqueue()

	wait, err := p.await(ctx, w, start)
	if err != nil {
		return nil, wait, err
	}
	return &Slot{p: p, held: true}, wait, nil
}

// enqueueLocked appends a new waiter at the tail and returns it with the time
// it started waiting.
func (p *Pool) enqueueLocked() (*waiter, time.Time) {
	w := &waiter{ready: make(chan struct{})}
	if p.tail == nil {
		p.head, p.tail = w, w
	} else {
		w.prev = p.tail
		p.tail.next = w
		p.tail = w
	}
	p.waiting++
	return w, p.now()
}

func (p *Pool) notifyEnqueue() {
	if p.onEnqueue != nil {
		p.onEnqueue()
	}
}

// removeLocked unlinks w from the queue.
func (p *Pool) removeLocked(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		p.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		p.tail = w.prev
	}
	w.prev, w.next = nil, nil
	p.waiting--
}

// releaseLocked gives up one held slot: straight to the head waiter if there
// is one (inUse unchanged, so the slot is never observable as free), else
// back to the pool.
func (p *Pool) releaseLocked() {
	if w := p.head; w != nil {
		p.removeLocked(w)
		w.granted = true
		close(w.ready)
		return
	}
	p.inUse--
}

// await blocks until w is granted or ctx ends. On error the caller holds no
// slot: a grant that raced with the cancellation is passed on.
func (p *Pool) await(ctx context.Context, w *waiter, start time.Time) (time.Duration, error) {
	select {
	case <-w.ready:
		return p.now().Sub(start), nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	if w.granted {
		// Handed a slot while giving up: pass it on so it is not lost.
		p.releaseLocked()
	} else {
		p.removeLocked(w)
	}
	p.mu.Unlock()
	return p.now().Sub(start), ctx.Err()
}

// Slot is one held place in the pool. It belongs to one follower goroutine:
// Yield and Release must not be called concurrently on the same Slot.
type Slot struct {
	p    *Pool
	held bool // guarded by p.mu
}

// Yield lets waiting followers go first. If nobody waits it returns at once
// and the slot stays held. Otherwise the slot is handed to the head of the
// queue and the caller joins the tail, returning once a slot is handed back,
// with how long it waited. Call it with the stream closed: while waiting the
// caller holds nothing.
//
// If ctx ends (even before the call) the slot is released, ctx.Err() is
// returned and the follower must not open a stream; a later Release is a
// no-op. Yield on a released slot returns ErrReleased.
func (s *Slot) Yield(ctx context.Context) (time.Duration, error) {
	p := s.p
	p.mu.Lock()
	if !s.held {
		p.mu.Unlock()
		return 0, ErrReleased
	}
	if err := ctx.Err(); err != nil {
		s.held = false
		p.releaseLocked()
		p.mu.Unlock()
		return 0, err
	}
	if p.head == nil {
		p.mu.Unlock()
		return 0, nil
	}
	// Hand over and queue up in one critical section: the yielder lands
	// behind every follower that was already waiting.
	s.held = false
	p.releaseLocked()
	w, start := p.enqueueLocked()
	p.mu.Unlock()
	p.notifyEnqueue()

	wait, err := p.await(ctx, w, start)
	if err != nil {
		return wait, err
	}
	p.mu.Lock()
	s.held = true
	p.mu.Unlock()
	return wait, nil
}

// Release gives the slot back, handing it to the head waiter if any. It is
// idempotent, so followers can defer it and also call it early.
func (s *Slot) Release() {
	p := s.p
	p.mu.Lock()
	if s.held {
		s.held = false
		p.releaseLocked()
	}
	p.mu.Unlock()
}
