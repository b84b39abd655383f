package receiver

// What exited containers cost: with DLR_EXITED_CONTAINERS=N (make
// measure-exited runs it with 2,000), N containers run and exit, then
// collectors are started in child processes on them and measured:
// goroutines, RSS, how long the first listing takes to reconcile, and how
// many containers were inspected. Without the variable it is skipped: it
// takes minutes, and it measures rather than checks one behaviour (the
// per-container cost is checked by TestLifecycleExitedContainersKeepNoGoroutine).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/enginetest"
)

// Environment of TestLifecycleManyHelperProcess.
const (
	manyEnvHelper   = "DLR_MANY_HELPER"
	manyEnvEndpoint = "DLR_MANY_ENDPOINT"
	manyEnvLabel    = "DLR_MANY_LABEL"
	manyEnvStore    = "DLR_MANY_STORE" // empty: no storage
)

// manyFigures is what a helper process reports once its first listing was
// reconciled and it settled.
type manyFigures struct {
	Goroutines  int   `json:"goroutines"`
	RSSKiB      int64 `json:"rss_kib"`
	ReconcileMS int64 `json:"reconcile_ms"`
	Selected    int64 `json:"selected"`
	Inspected   int64 `json:"inspected"`
}

// TestLifecycleManyHelperProcess is not a test on its own: it returns at
// once unless TestLifecycleManyExitedContainers runs it in a child process.
func TestLifecycleManyHelperProcess(t *testing.T) {
	if os.Getenv(manyEnvHelper) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	core, logs := observer.New(zapcore.InfoLevel)
	cfg := testConfig(os.Getenv(manyEnvEndpoint))
	cfg.StartAt = StartAtEnd
	cfg.Include.Labels = []string{os.Getenv(manyEnvLabel)}
	host := rstHost(t.TempDir())
	if dir := os.Getenv(manyEnvStore); dir != "" {
		id := rstStorageID
		cfg.Storage = &id
		host = rstHost(dir)
	}
	_, r := rstStartLogged(t, cfg, consumertest.NewNop(), host, zap.New(core))
	var fields map[string]any
	for fields == nil {
		if l := logs.FilterMessage("first container listing reconciled").All(); len(l) > 0 {
			fields = l[0].ContextMap()
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("stopped before the first listing was reconciled")
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Let whatever the listing started finish (streams of containers with
	// lines to read, their goroutines).
	time.Sleep(3 * time.Second)
	runtime.GC()
	f := manyFigures{Goroutines: runtime.NumGoroutine(), RSSKiB: procStatusKiB(t, "VmRSS:")}
	if d, ok := fields["duration"].(time.Duration); ok {
		f.ReconcileMS = d.Milliseconds()
	}
	f.Selected, _ = fields["selected"].(int64)
	f.Inspected, _ = fields["inspected"].(int64)
	printFigures(f)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
}

// manyMeasure runs one helper process until it reports its figures.
func manyMeasure(ctx context.Context, t *testing.T, env ...string) manyFigures {
	t.Helper()
	var f manyFigures
	childFigures(ctx, t, "TestLifecycleManyHelperProcess", append([]string{manyEnvHelper + "=1"}, env...), &f)
	return f
}

func TestLifecycleManyExitedContainers(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("DLR_EXITED_CONTAINERS"))
	if n <= 0 {
		t.Skip("set DLR_EXITED_CONTAINERS=N (make measure-exited) to measure N exited containers")
	}
	e := dockertest.Require(t)
	key, val := rstLabel(e, t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer ccancel()
		if _, err := e.Docker(cctx, "container", "prune", "-f", "--filter", "label="+key+"="+val); err != nil {
			t.Errorf("remove the exited containers: %v", err)
		}
	})
	began := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	next := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				_, err := e.Docker(ctx, "run", "-d", "--network", "none",
					"--label", dockertest.LabelTest+"=1", "--label", dockertest.LabelRun+"="+e.RunID(),
					"--label", dockertest.LabelOwner+"="+dockertest.OwnerLabel(), "--label", key+"="+val,
					"--name", fmt.Sprintf("exited-%s-%d", e.RunID(), i), e.Image(), "-n", "1")
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d containers failed to run, first: %v", len(errs), errs[0])
	}
	// Every one has exited once docker ps shows none of them running.
	if err := waitFor(ctx, func() bool {
		out, err := e.Docker(ctx, "ps", "-q", "--filter", "label="+key+"="+val)
		return err == nil && len(bytes.TrimSpace(out)) == 0
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d containers ran and exited in %v", n, time.Since(began).Round(time.Second))

	proxy := enginetest.NewAllowlistProxy(t, e.Endpoint())
	inspects := func() int {
		k := 0
		for _, r := range proxy.Requests() {
			if strings.HasSuffix(r.Template, "/containers/{id}/json") {
				k++
			}
		}
		return k
	}
	env := func(label, store string) []string {
		return []string{manyEnvEndpoint + "=" + proxy.Endpoint(), manyEnvLabel + "=" + label, manyEnvStore + "=" + store}
	}
	base := manyMeasure(ctx, t, env(key+"=none-"+val, "")...)
	i0 := inspects()
	plain := manyMeasure(ctx, t, env(key+"="+val, "")...)
	i1 := inspects()
	store := t.TempDir()
	first := manyMeasure(ctx, t, env(key+"="+val, store)...)
	i2 := inspects()
	again := manyMeasure(ctx, t, env(key+"="+val, store)...)
	i3 := inspects()
	t.Logf("no container selected: goroutines %d, RSS %d KiB", base.Goroutines, base.RSSKiB)
	for _, m := range []struct {
		name string
		f    manyFigures
		insp int
	}{{"no storage", plain, i1 - i0}, {"storage, first start", first, i2 - i1}, {"storage, restart", again, i3 - i2}} {
		t.Logf("%d exited, %s: goroutines %d (%+d), RSS %d KiB (%+d KiB), first listing reconciled in %d ms, selected %d, inspected %d (proxy counted %d)",
			n, m.name, m.f.Goroutines, m.f.Goroutines-base.Goroutines, m.f.RSSKiB, m.f.RSSKiB-base.RSSKiB, m.f.ReconcileMS, m.f.Selected, m.f.Inspected, m.insp)
		if d := m.f.Goroutines - base.Goroutines; d > 3 || d < -3 {
			t.Errorf("%s: goroutines %d, baseline %d", m.name, m.f.Goroutines, base.Goroutines)
		}
		if m.f.RSSKiB > base.RSSKiB+20*1024 {
			t.Errorf("%s: RSS %d KiB, baseline %d KiB (+20 MiB allowed)", m.name, m.f.RSSKiB, base.RSSKiB)
		}
		if m.f.ReconcileMS > 10_000 {
			t.Errorf("%s: first listing reconciled in %d ms (10 s allowed)", m.name, m.f.ReconcileMS)
		}
		if m.insp > n {
			t.Errorf("%s: %d inspects for %d containers", m.name, m.insp, n)
		}
	}
	if i1-i0 != 0 {
		t.Errorf("without storage and with start_at end, %d exited containers were inspected; the listing tells they have nothing to read", i1-i0)
	}
}
