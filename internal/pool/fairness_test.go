package pool

import (
	"cmp"
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFairnessBound simulates followers that rotate on a fake clock and
// checks the documented bound ceil((N-K)/K)*R on every wait, plus strict
// FIFO hand-over against a model queue. The test advances the clock itself,
// one rotation at a time, and waits for the one grant each rotation causes:
// no sleeps, fully deterministic.
func TestFairnessBound(t *testing.T) {
	const R = time.Minute
	cases := []struct {
		name string
		n, k int
		// minHold is the shortest time a holder keeps its stream; holds are
		// uniform in [minHold, R] (jitter). minHold == R means no jitter.
		minHold time.Duration
		// tight: without jitter the bound is reached exactly.
		tight bool
	}{
		{name: "12x3_fixed", n: 12, k: 3, minHold: R, tight: true},
		{name: "12x3_jitter", n: 12, k: 3, minHold: R / 2},
		{name: "12x3_wide_jitter", n: 12, k: 3, minHold: R / 10},
		{name: "10x3_fixed", n: 10, k: 3, minHold: R, tight: true},
		{name: "7x2_jitter", n: 7, k: 2, minHold: R / 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bound := time.Duration((tc.n-tc.k+tc.k-1)/tc.k) * R
			maxWait := simulateRotations(t, tc.n, tc.k, R, tc.minHold, 50*tc.n)
			t.Logf("max wait %.2f rotations, bound %.0f", float64(maxWait)/float64(R), float64(bound)/float64(R))
			if maxWait > bound {
				t.Fatalf("max wait %v exceeds bound %v", maxWait, bound)
			}
			if tc.tight && maxWait != bound {
				t.Fatalf("max wait %v, want exactly the bound %v without jitter", maxWait, bound)
			}
		})
	}
}

type grant struct {
	id   int
	wait time.Duration
}

// simulateRotations runs n followers over k slots for the given number of
// rotations and returns the longest wait any Acquire or Yield reported.
func simulateRotations(t *testing.T, n, k int, rotation, minHold time.Duration, rotations int) time.Duration {
	t.Helper()
	var now atomic.Int64 // fake clock, ns
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	p, enq := newTestPool(k, WithClock(clock))
	rng := rand.New(rand.NewPCG(uint64(n), uint64(k)))
	holdFor := func() time.Duration {
		if minHold >= rotation {
			return rotation
		}
		return minHold + time.Duration(rng.Int64N(int64(rotation-minHold)+1))
	}

	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan struct{})
	grants := make(chan grant)
	rotate := make([]chan struct{}, n)
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		cancel()
		wg.Wait()
	}()

	follower := func(id int) {
		slot, wait, err := p.Acquire(ctx)
		if err != nil {
			return
		}
		defer slot.Release()
		for {
			select {
			case grants <- grant{id, wait}:
			case <-stop:
				return
			}
			select {
			case <-rotate[id]: // stream reached its rotation time and is closed
			case <-stop:
				return
			}
			if wait, err = slot.Yield(ctx); err != nil {
				return
			}
		}
	}

	deadline := map[int]time.Duration{} // holder -> rotation time on the fake clock
	var queue []int                     // model of the pool's FIFO
	var maxWait time.Duration
	onGrant := func(g grant) {
		if g.wait > maxWait {
			maxWait = g.wait
		}
		deadline[g.id] = time.Duration(now.Load()) + holdFor()
	}

	// Start followers one by one so the initial queue order is known.
	for id := range n {
		rotate[id] = make(chan struct{})
		wg.Go(func() { follower(id) })
		if id < k {
			onGrant(recv(t, grants, "initial grant"))
		} else {
			recv(t, enq, "initial enqueue")
			queue = append(queue, id)
		}
	}
	checkCounts(t, p, k, n-k)

	for range rotations {
		// The holder whose rotation comes first (ties by id) closes its
		// stream and yields.
		h := -1
		for id, d := range deadline {
			if h < 0 || cmp.Or(cmp.Compare(d, deadline[h]), cmp.Compare(id, h)) < 0 {
				h = id
			}
		}
		now.Store(int64(deadline[h]))
		delete(deadline, h)
		rotate[h] <- struct{}{}

		// Exactly one grant follows: to the queue head, or back to h when
		// nobody waits. Hand-over and re-queueing happen atomically, so
		// the counts are settled once the grant arrives.
		g := recv(t, grants, "grant after rotation")
		want := h
		if len(queue) > 0 {
			want = queue[0]
		}
		if g.id != want {
			t.Fatalf("rotation of %d granted %d, want %d (queue before %v)", h, g.id, want, queue)
		}
		if len(queue) > 0 {
			queue = append(queue[1:], h)
		}
		onGrant(g)
		checkCounts(t, p, k, n-k)
	}
	if len(deadline) != k {
		t.Fatalf("holders %v, want %d", deadline, k)
	}
	return maxWait
}
