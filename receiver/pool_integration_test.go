package receiver

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
)

// TestIntegrationPoolIsFair runs three times more containers than stream
// slots and checks every line arrives exactly once and no container waited
// longer than the documented bound ceil((N-K)/K) * rotation_interval*1.1.
func TestIntegrationPoolIsFair(t *testing.T) {
	const containers, slots = 12, 3
	rotation := time.Second
	e := dockertest.Require(t)
	sink := &logsink.Sink{}
	cfg := testConfig(e.Endpoint())
	cfg.RotationInterval = rotation
	cfg.MaxConcurrentStreams = slots
	cfg.Include.Labels = []string{"dockerlogsrotating.test.run=" + e.RunID()}
	tt := run(t, cfg, sink)

	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.Run(t, dockertest.RunOptions{Name: "fair" + strconv.Itoa(i), Args: []string{"-n", "400", "-streams", "both", "-rate", "40", "-then", "sleep"}})
			mu.Lock()
			sink.Checker.Expect(c.Name, "stdout", 400)
			sink.Checker.Expect(c.Name, "stderr", 400)
			mu.Unlock()
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sink.Checker.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sink.Checker.Report().Err(); err != nil {
		t.Fatal(err)
	}
	maxWait, waits := histogramMax(t, tt, "dockerlogsrotating_pool_wait")
	bound := math.Ceil(float64(containers-slots)/slots) * rotation.Seconds() * 1.1
	t.Logf("containers=%d slots=%d rotation=%v lines=%d waits=%d longest_wait=%.2fs bound=%.2fs yields=%d",
		containers, slots, rotation, len(sink.Records()), waits, maxWait, bound,
		counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "rotation"))
	// Scheduling and closing a stream come on top of the bound.
	if maxWait > bound+0.5 {
		t.Fatalf("a container waited %.2fs for a slot, more than the bound %.2fs", maxWait, bound)
	}
}

// TestIntegrationNoLeakUnderChurn rotates every 500 ms for over a minute
// while short-lived containers come and go, and checks the goroutines come
// back to their baseline and stay at a fixed number per open stream.
func TestIntegrationNoLeakUnderChurn(t *testing.T) {
	e := dockertest.Require(t)
	sink := &logsink.Sink{}
	cfg := testConfig(e.Endpoint())
	cfg.RotationInterval = 500 * time.Millisecond
	cfg.MaxConcurrentStreams = 8
	cfg.Include.Labels = []string{"dockerlogsrotating.test.run=" + e.RunID()}
	tt := run(t, cfg, sink)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// Baseline: the receiver connected and watching nothing.
	if err := waitFor(ctx, func() bool {
		return gauge(t, tt, "dockerlogsrotating_streams_open") == 0 && counter(t, tt, "dockerlogsrotating_containers_watched", "", "") == 0
	}); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	baseline := runtime.NumGoroutine()

	expect := func(c *dockertest.Container, n int) {
		sink.Checker.Expect(c.Name, "stdout", n)
		sink.Checker.Expect(c.Name, "stderr", n)
	}
	var long []*dockertest.Container
	for i := range 4 {
		c := e.Run(t, dockertest.RunOptions{Name: "steady" + strconv.Itoa(i), Args: []string{"-n", "1300", "-streams", "both", "-rate", "40", "-then", "sleep"}})
		expect(c, 1300)
		long = append(long, c)
	}

	type sample struct{ goroutines, open, watched int }
	var samples []sample
	sampleNow := func() {
		samples = append(samples, sample{runtime.NumGoroutine(), int(gauge(t, tt, "dockerlogsrotating_streams_open")), int(counter(t, tt, "dockerlogsrotating_containers_watched", "", ""))})
	}
	start := time.Now()
	churned := 0
	for time.Since(start) < 62*time.Second || churned < 40 {
		c := e.Run(t, dockertest.RunOptions{Name: "short" + strconv.Itoa(churned), Args: []string{"-n", "30", "-streams", "both", "-rate", "30", "-then", "exit"}})
		expect(c, 30)
		churned++
		sampleNow()
		tick := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-tick.C:
		}
	}
	if err := sink.Checker.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range long {
		if err := c.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Short containers are removed by their cleanup only; stopped ones keep
	// a parked follower (no stream, one goroutine) until removed.
	for _, c := range long {
		if err := c.Remove(ctx); err != nil {
			t.Fatal(err)
		}
	}
	out, err := e.Docker(ctx, "ps", "-aq", "--filter", "label=dockerlogsrotating.test.run="+e.RunID())
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > 0 {
		if _, err := e.Docker(ctx, append([]string{"rm", "-f"}, splitFields(string(out))...)...); err != nil {
			t.Fatal(err)
		}
	}
	if err := waitFor(ctx, func() bool {
		return gauge(t, tt, "dockerlogsrotating_streams_open") == 0 && counter(t, tt, "dockerlogsrotating_containers_watched", "", "") == 0
	}); err != nil {
		t.Fatalf("streams or followers left: open=%d watched=%d", gauge(t, tt, "dockerlogsrotating_streams_open"), counter(t, tt, "dockerlogsrotating_containers_watched", "", ""))
	}
	var after int
	if err := waitFor(ctx, func() bool { runtime.GC(); after = runtime.NumGoroutine(); return after <= baseline+4 }); err != nil {
		t.Fatalf("goroutines did not return to baseline: %d before, %d after", baseline, after)
	}
	if err := sink.Checker.Report().Err(); err != nil {
		t.Fatal(err)
	}
	// Every watched container has one follower goroutine; an open stream
	// adds its HTTP connection's read and write loops. Idle keep-alive
	// connections of short requests (list, inspect) come on top, at most
	// two per host in Go's transport, two goroutines each.
	const perStream, idleConns = 3, 4
	worst, excess := 0.0, 0
	for _, s := range samples {
		if s.open > 0 {
			worst = max(worst, float64(s.goroutines-baseline-s.watched)/float64(s.open))
		}
		excess = max(excess, s.goroutines-baseline-s.watched-perStream*s.open)
	}
	rot := counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "rotation")
	t.Logf("churned=%d containers, rotations=%d, goroutines baseline=%d after=%d, worst (goroutines-baseline-followers)/open=%.2f, worst excess over %d per stream=%d, samples=%v",
		churned+len(long), rot, baseline, after, worst, perStream, excess, summarize(samples))
	if excess > idleConns {
		t.Fatalf("goroutines exceeded baseline + followers + %d per open stream by %d", perStream, excess)
	}
	if rot < 100 {
		t.Fatalf("only %d rotations", rot)
	}
}

func summarize[T any](s []T) string {
	if len(s) <= 6 {
		return fmt.Sprint(s)
	}
	return fmt.Sprint(s[:3], " ... ", s[len(s)-3:])
}

func splitFields(s string) []string {
	var out []string
	cur := ""
	for _, r := range s {
		if r == '\n' || r == ' ' {
			if cur != "" {
				out = append(out, cur)
			}
			cur = ""
			continue
		}
		cur += string(r)
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// waitFor polls cond on the receiver's own telemetry, which has no change
// notification, every 50 ms until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// gauge reads an int up-down counter.
func gauge(t *testing.T, tt *componenttest.Telemetry, name string) int64 {
	return counter(t, tt, name, "", "")
}
