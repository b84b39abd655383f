package receiver

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/stacktraces"
)

// benchLines is the backlog of the benchmark's container; benchBody the
// text of each line (100 bytes, as in internal/batch's BenchmarkDecodePath).
const benchLines = 100_000

var benchBody = strings.Repeat("0123456789", 10)

// phase is what one phase of an op cost the whole process.
type phase struct {
	wall, cpu time.Duration
	mallocs   uint64
}

func (p *phase) add(wall, cpu time.Duration, mallocs uint64) {
	p.wall += wall
	p.cpu += cpu
	p.mallocs += mallocs
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// measure runs f and returns its wall time, the process's CPU time and
// heap allocations during it.
func measure(f func()) (time.Duration, time.Duration, uint64) {
	m0, c0, t0 := mallocs(), processCPU(), time.Now()
	f()
	wall, cpu := time.Since(t0), processCPU()-c0
	return wall, cpu, mallocs() - m0
}

// BenchmarkReceiverFakeDaemon measures the whole receiver end to end: a fake
// daemon (internal/testing/fakedocker, over a unix socket, one stdcopy frame
// and one HTTP flush per message like dockerd) serves a container whose log
// already holds benchLines 100-byte lines; the receiver (start_at: beginning,
// real SDK telemetry) reads them into a nop consumer that counts records.
//
// The fake daemon runs in the benchmark's process, so each op has two
// phases, measured side by side: "drain" reads the same backlog with the
// moby client into io.Discard (the fake's own cost, plus a trivial reader),
// then "recv" runs a fresh receiver until the consumer counted every line.
// Metrics per line: wall ns, process CPU ns and heap allocations of each
// phase, and recv minus drain (what the receiver adds: decoding, assembly,
// pdata, positions, telemetry, consumer calls). ns/op is both phases.
func BenchmarkReceiverFakeDaemon(b *testing.B) {
	d, id := benchBacklog(b)

	cli, err := client.New(client.WithHost(d.Endpoint()))
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()

	var drain, recv phase
	var batches int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		drain.add(measure(func() {
			rc, err := cli.ContainerLogs(context.Background(), id, client.ContainerLogsOptions{
				ShowStdout: true, ShowStderr: true, Timestamps: true,
			})
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil || n < int64(benchLines*len(benchBody)) {
				b.Fatalf("drain: %d bytes, %v", n, err)
			}
		}))

		calls := benchReceive(b, d.Endpoint(), benchLines, &recv, nil, nil)
		batches += calls
		b.StartTimer()
	}
	lines := float64(b.N) * benchLines
	per := func(v float64) float64 { return v / lines }
	b.ReportMetric(per(float64(recv.wall)), "recv-ns/line")
	b.ReportMetric(per(float64(recv.cpu)), "recv-cpu-ns/line")
	b.ReportMetric(per(float64(recv.mallocs)), "recv-allocs/line")
	b.ReportMetric(per(float64(drain.wall)), "drain-ns/line")
	b.ReportMetric(per(float64(drain.cpu)), "drain-cpu-ns/line")
	b.ReportMetric(per(float64(drain.mallocs)), "drain-allocs/line")
	b.ReportMetric(per(float64(recv.cpu-drain.cpu)), "added-cpu-ns/line")
	b.ReportMetric(per(float64(recv.mallocs)-float64(drain.mallocs)), "added-allocs/line")
	b.ReportMetric(lines/float64(batches), "lines/batch")
}

// benchBacklog starts a fake daemon serving one running container whose
// log holds benchLines lines of benchBody on stdout.
func benchBacklog(b *testing.B) (*fakedocker.Daemon, string) {
	d := fakedocker.New(b)
	d.AddContainer(fakedocker.Container{Name: "bench", Image: "app:1"})
	id := d.ContainerID("bench")
	d.Start(id)
	texts := make([]string, 10_000)
	for i := range texts {
		texts[i] = benchBody
	}
	for range benchLines / len(texts) {
		d.WriteLines(id, fakedocker.Stdout, texts...)
	}
	return d, id
}

// benchReceive runs a fresh receiver (start_at: beginning, set as mod says)
// on the daemon at endpoint until its consumer counted records, adds what
// that cost to p, shuts the receiver down (outside the timer) and returns
// the number of ConsumeLogs calls. The timer is stopped when it returns.
// host offers the extensions (nil: none).
func benchReceive(b *testing.B, endpoint string, records int64, p *phase, mod func(*Config), host component.Host) int64 {
	b.Helper()
	sink := logsink.NewCounter(records)
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = endpoint
	cfg.StartAt = StartAtBeginning
	if mod != nil {
		mod(cfg)
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	if host == nil {
		host = componenttest.NewNopHost()
	}
	tt := componenttest.NewTelemetry()
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tt.NewTelemetrySettings()
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	if err != nil {
		b.Fatal(err)
	}
	p.add(measure(func() {
		if err := r.Start(context.Background(), host); err != nil {
			b.Fatal(err)
		}
		select {
		case <-sink.Done():
		case <-time.After(5 * time.Minute):
			b.Fatalf("receiver delivered %d of %d records", sink.Records.Load(), records)
		}
	}))
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		b.Error(err)
	}
	_ = tt.Shutdown(ctx)
	if got := sink.Records.Load(); got != records {
		b.Fatalf("receiver delivered %d records, want %d", got, records)
	}
	return sink.Calls.Load()
}

// BenchmarkReceiverMultiline measures what multiline grouping costs the
// whole receiver: the fake daemon serves one backlog of benchLines lines,
// blocks of 185 ordinary 100-byte lines (a Spring Boot log: each starts
// with its date) and one 15-line Java trace, and each op reads it with a
// fresh receiver three times in turn: multiline off, line_start_pattern
// `^\d{4}-\d{2}-\d{2} ` (the trace joins the log line before it), and mode
// auto (the trace is one record); then with the moby client into
// io.Discard (the fake's own cost, as in BenchmarkReceiverFakeDaemon).
// Metrics per input line: process CPU ns of each, the receiver's own
// (minus the drain), and the same-run ratios against off.
func BenchmarkReceiverMultiline(b *testing.B) {
	trace := stacktraces.All()[0] // java-caused-by
	const ordinary = 185
	block := ordinary + len(trace.Lines)
	blocks := benchLines / block
	lines := int64(blocks * block)
	d := fakedocker.New(b)
	d.AddContainer(fakedocker.Container{Name: "bench", Image: "app:1"})
	id := d.ContainerID("bench")
	d.Start(id)
	texts := make([]string, 0, block)
	for i := range ordinary {
		s := fmt.Sprintf("2026-12-03 10:15:02.%03d  INFO 1 --- [nio-8080-exec-3] c.e.shop.web.OrderController : ", i%1000)
		texts = append(texts, s+benchBody[:100-len(s)])
	}
	texts = append(texts, trace.Lines...)
	for range blocks {
		d.WriteLines(id, fakedocker.Stdout, texts...)
	}
	cli, err := client.New(client.WithHost(d.Endpoint()))
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()

	modes := []struct {
		name    string
		records int64
		mod     func(*Config)
	}{
		{"off", lines, nil},
		{"pattern", lines - int64(blocks*len(trace.Lines)), func(c *Config) { c.Multiline.LineStartPattern = `^\d{4}-\d{2}-\d{2} ` }},
		{"auto", lines - int64(blocks*(len(trace.Lines)-1)), func(c *Config) { c.Multiline.Mode = "auto" }},
	}
	phases := make([]phase, len(modes))
	var drain phase
	b.ResetTimer()
	for range b.N {
		for i, m := range modes {
			benchReceive(b, d.Endpoint(), m.records, &phases[i], m.mod, nil)
			b.StartTimer()
		}
		drain.add(measure(func() {
			rc, err := cli.ContainerLogs(context.Background(), id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				b.Fatal(err)
			}
		}))
	}
	per := func(d time.Duration) float64 { return float64(d) / float64(lines) / float64(b.N) }
	for i, m := range modes {
		b.ReportMetric(per(phases[i].cpu), m.name+"-cpu-ns/line")
		b.ReportMetric(per(phases[i].cpu-drain.cpu), m.name+"-added-cpu-ns/line")
		if i > 0 {
			b.ReportMetric(float64(phases[i].cpu)/float64(phases[0].cpu), m.name+"/off-cpu")
			b.ReportMetric(float64(phases[i].cpu-drain.cpu)/float64(phases[0].cpu-drain.cpu), m.name+"/off-added-cpu")
		}
	}
	b.ReportMetric(per(drain.cpu), "drain-cpu-ns/line")
}
