package receiver

// Memory is bounded in bytes: eight containers write lines of about 1 MB as
// fast as they can into a slow consumer. The collector, in a child process,
// reports its peak RSS, which must stay within the bound the README states:
// containers x (batch byte budget + 4 x max_log_size) x 2 (Go's GC lets the
// heap grow to twice what is live) + the process's own baseline.

import (
	"context"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
)

const (
	memEnvHelper   = "DLR_MEM_HELPER"
	memEnvEndpoint = "DLR_MEM_ENDPOINT"
	memEnvLabel    = "DLR_MEM_LABEL"
	memEnvLines    = "DLR_MEM_LINES"
)

// TestMemoryHelperProcess is not a test on its own: it returns at once
// unless TestMemoryBoundedInBytes runs it in a child process. It reads
// until it has seen the expected number of records, through a consumer that
// takes 20 ms per batch, then prints its peak RSS.
func TestMemoryHelperProcess(t *testing.T) {
	if os.Getenv(memEnvHelper) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	want, _ := strconv.ParseInt(os.Getenv(memEnvLines), 10, 64)
	baseline := procStatusKiB(t, "VmRSS:")
	var got atomic.Int64
	var batches, maxBatch atomic.Int64
	done := make(chan struct{})
	next, err := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
		time.Sleep(20 * time.Millisecond) // a slow pipeline
		n := int64(ld.LogRecordCount())
		batches.Add(1)
		if n > maxBatch.Load() {
			maxBatch.Store(n)
		}
		if got.Add(n) == want {
			close(done)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(os.Getenv(memEnvEndpoint))
	cfg.StartAt = StartAtBeginning
	cfg.Include.Labels = []string{os.Getenv(memEnvLabel)}
	_, r := rstStart(t, cfg, next, rstHost(t.TempDir()))
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("stopped after %d of %d records", got.Load(), want)
	}
	printFigures(memFigures{BaselineKiB: baseline, PeakKiB: procStatusKiB(t, "VmHWM:"), Batches: batches.Load(), MaxBatch: maxBatch.Load()})
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
}

// memFigures is what TestMemoryHelperProcess reports.
type memFigures struct {
	BaselineKiB int64 `json:"baseline_kib"` // RSS before the receiver started
	PeakKiB     int64 `json:"peak_kib"`     // VmHWM once every line arrived
	Batches     int64 `json:"batches"`
	MaxBatch    int64 `json:"max_batch"` // records in the largest batch
}

func TestMemoryBoundedInBytes(t *testing.T) {
	const containers, perContainer, size = 8, 24, 1_000_000
	e := dockertest.Require(t)
	key, val := rstLabel(e, t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The containers write first (the daemon keeps it all), then the
	// collector reads the backlog as fast as the consumer lets it.
	var cs []*dockertest.Container
	for i := range containers {
		cs = append(cs, e.Run(t, dockertest.RunOptions{
			Name: "bigline" + strconv.Itoa(i), Labels: map[string]string{key: val},
			Args:    []string{"-n", strconv.Itoa(perContainer), "-size", strconv.Itoa(size)},
			LogOpts: map[string]string{"max-size": "500m"},
		}))
	}
	lcWaitExited(ctx, t, cs...)

	began := time.Now()
	var f memFigures
	childFigures(ctx, t, "TestMemoryHelperProcess", []string{memEnvHelper + "=1", memEnvEndpoint + "=" + e.Endpoint(),
		memEnvLabel + "=" + key + "=" + val, memEnvLines + "=" + strconv.Itoa(containers*perContainer)}, &f)
	baseline, peak, batches, maxBatch := f.BaselineKiB, f.PeakKiB, f.Batches, f.MaxBatch
	// The bound the README states, with the defaults: per container the
	// batch budget plus four lines of max_log_size (the one crossing the
	// budget, one unfinished per stream, the decoder's buffer), doubled
	// for the GC, plus 64 MiB of process baseline and pdata overhead.
	perC := int64(maxBatchBytes+4*defaultMaxLogSize) / 1024
	bound := baseline + containers*2*perC + 64*1024
	t.Logf("%d containers x %d lines of %d bytes into a 20 ms/batch consumer in %v: peak RSS %d KiB (baseline %d KiB, bound %d KiB), %d batches, largest %d records",
		containers, perContainer, size, time.Since(began).Round(time.Millisecond), peak, baseline, bound, batches, maxBatch)
	if peak > bound {
		t.Fatalf("peak RSS %d KiB over the bound %d KiB", peak, bound)
	}
	if limit := int64(maxBatchBytes/size + 1); maxBatch > limit {
		t.Errorf("a batch of %d records of %d bytes: over the %d-byte budget", maxBatch, size, maxBatchBytes)
	}
}
