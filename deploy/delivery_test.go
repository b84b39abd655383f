package deploy_test

// The delivery guarantee of the shipped agent configuration, end to end:
// the receiver saves a container's position once the pipeline accepted its
// lines, so nothing between the receiver and the exporter's persistent
// queue may accept lines into memory and return (README "Delivery
// guarantees").
//
// TestAgentDeliveryAcrossOutageAndSIGKILL runs deploy/agent.yaml as shipped
// (plus an override with this test's endpoints, storage directory and
// include filter) as a host process of ./bin/otelcol-dockerlogs-deploy, the
// collector of the deploy image, and a gateway of its own (the same binary:
// OTLP receiver to file exporter). Five loggen containers write 55,000
// lines; the gateway goes away for 30 s; meanwhile the agent is SIGKILLed
// (three times) and started again on the same storage each time; the
// gateway comes back. Every line must arrive at least once (duplicates are
// counted and logged: a SIGKILL may repeat lines, never lose one). The
// subtest shipped_queue_full does the same with a queue small enough to
// fill during the outage: the exporter must refuse, the receiver retry.
// The subtest old_batch_processor runs the scenario with the pipeline of
// before issue 10 (git 7e5f9e1: the `batch` processor in front of the
// exporter's persistent queue), killing while that processor holds lines,
// and asserts that lines are lost, so that this test demonstrably guards
// the guarantee. About 4 minutes in all.
//
// TestShippedPipelinesKeepTheDeliveryChain checks the same rule statically
// on config.yaml, deploy/agent.yaml and deploy/gateway.yaml (also with
// -short).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
)

const (
	// outageContainers loggen containers write outageLinesEach lines each
	// at outageRate lines/s: 55,000 lines over 44 s, so that lines are still
	// being written when the agent is killed and when the gateway returns.
	outageContainers = 5
	outageLinesEach  = 11000
	outageRate       = 250
	// outageStartAfter lines at the gateway before it goes away.
	outageStartAfter = 3000
	// outageKills SIGKILLs of the agent during the outage, each after
	// killAfter lines accepted by its receiver (about 4 s at 1,250
	// lines/s; faster after a restart, when the agent catches up).
	outageKills = 3
	killAfter   = 5000
	// outageMin is how long the gateway stays away.
	outageMin = 30 * time.Second
	// quiet is how long nothing may change (output, agent queue, receiver)
	// before the run counts as finished; quietAfterRefusal when lines are
	// missing and the receiver was refused (its backoff reaches 30 s).
	quiet             = 3 * time.Second
	quietAfterRefusal = 35 * time.Second
	// fullQueue is the queue_size (log records) of the full-queue variant:
	// the queue fills a few seconds into the outage.
	fullQueue = 10000
	// scenarioTimeout bounds one run of the scenario.
	scenarioTimeout = 4 * time.Minute
)

func TestAgentDeliveryAcrossOutageAndSIGKILL(t *testing.T) {
	e := dockertest.Require(t) // skips under -short
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := buildDeployCollector(t, root)
	shipped := filepath.Join(root, "deploy", "agent.yaml")

	// The built collector accepts every shipped configuration, make run's
	// config.yaml included (its components are in both manifests).
	t.Run("shipped_configs_validate", func(t *testing.T) {
		for _, path := range []string{"config.yaml", "deploy/agent.yaml", "deploy/gateway.yaml"} {
			cmd := exec.Command(bin, "validate", "--config", filepath.Join(root, path))
			cmd.Env = append(os.Environ(), "GATEWAY_ENDPOINT=127.0.0.1:4317")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: %v\n%s", path, err, out)
			}
		}
	})

	t.Run("shipped", func(t *testing.T) {
		res := runOutageScenario(t, e, bin, shipped, outageOptions{kills: outageKills})
		t.Logf("shipped deploy/agent.yaml: %s", res)
		if res.lost > 0 {
			t.Errorf("%d of %d lines lost", res.lost, res.lines)
		}
		if err := res.badLines(); err != nil {
			t.Error(err)
		}
	})

	// The shipped pipeline with a small queue that fills during the outage:
	// the exporter must refuse (block_on_overflow: false), the receiver
	// retry, and nothing be lost, across a SIGKILL while it is refused.
	t.Run("shipped_queue_full", func(t *testing.T) {
		res := runOutageScenario(t, e, bin, shipped, outageOptions{kills: 1, queueSize: fullQueue})
		t.Logf("shipped deploy/agent.yaml, queue_size %d: %s", fullQueue, res)
		if res.lost > 0 {
			t.Errorf("%d of %d lines lost", res.lost, res.lines)
		}
		if res.refused == 0 {
			t.Errorf("the receiver was never refused: the queue did not fill, so this subtest checks nothing")
		}
		if err := res.badLines(); err != nil {
			t.Error(err)
		}
	})

	t.Run("old_batch_processor", func(t *testing.T) {
		old := filepath.Join(t.TempDir(), "agent-old.yaml")
		writeOldPipeline(t, shipped, old)
		res := runOutageScenario(t, e, bin, old, outageOptions{kills: outageKills, killWhileBatchHolds: true})
		t.Logf("old pipeline (batch processor in front of the queue): %s", res)
		if res.lost == 0 {
			t.Errorf("the old pipeline lost nothing: this test no longer demonstrates the loss it guards against")
		}
		if err := res.badLines(); err != nil {
			t.Error(err)
		}
	})
}

// writeOldPipeline writes the shipped agent configuration with the pipeline
// of git 7e5f9e1 (before issue 10): a `batch` processor last, and the
// exporter's persistent queue without batching. (That pipeline also had a
// resource processor setting host.name, which the receiver sets now; it
// played no part in the loss.) Everything else (receiver,
// extensions, exporter endpoint and retries) stays as shipped, so that the
// two runs differ only in the pipeline.
func writeOldPipeline(t *testing.T, shipped, out string) {
	t.Helper()
	b, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	mapAt(t, cfg, "processors")["batch"] = map[string]any{"send_batch_size": 8192, "timeout": "200ms"}
	mapAt(t, cfg, "exporters", "otlp_grpc")["sending_queue"] = map[string]any{"storage": "file_storage", "queue_size": 1000}
	mapAt(t, cfg, "service", "pipelines", "logs")["processors"] = []string{"memory_limiter", "batch"}
	b, err = yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mapAt(t *testing.T, m map[string]any, keys ...string) map[string]any {
	t.Helper()
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("configuration: %s is not a map", strings.Join(keys, "::"))
		}
		m = next
	}
	return m
}

// buildDeployCollector builds ./bin/otelcol-dockerlogs-deploy (the collector
// of the deploy image: the root manifest plus the OTLP receiver the gateway
// needs) under the lock that
// deploy/build-image.sh takes, and returns a private copy of it, so that a
// rebuild by someone else cannot change the binary between the two starts
// of the agent.
func buildDeployCollector(t *testing.T, root string) string {
	t.Helper()
	start := time.Now()
	if err := os.MkdirAll(filepath.Join(root, ".build"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	out, err := run(ctx, []string{"BUILD_CONFIG=deploy/builder-config.yaml"},
		"flock", filepath.Join(root, ".build", "deploy-image.lock"),
		"bash", filepath.Join(root, "scripts", "build-collector.sh"))
	if err != nil {
		t.Fatalf("building the collector: %v\n%s", err, out)
	}
	src := filepath.Join(root, "bin", "otelcol-dockerlogs-deploy")
	dst := filepath.Join(t.TempDir(), "otelcol-dockerlogs-deploy")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("collector %s ready in %v", src, time.Since(start).Round(time.Millisecond))
	return dst
}

// outageOptions vary the scenario.
type outageOptions struct {
	kills               int  // SIGKILLs of the agent during the outage
	killWhileBatchHolds bool // kill only while the batch processor holds lines
	queueSize           int  // >0: the exporter's sending_queue::queue_size
}

// outageResult is what one run of the scenario delivered.
type outageResult struct {
	lines, lost, dups int
	// kills: SIGKILLs of the agent; accepted: lines the killed agents'
	// receivers had handed on, together; held: lines the old pipeline's
	// batch processor held at the kills, as far as its metrics showed just
	// before (not measured for the shipped one); atOutage: distinct lines
	// at the gateway when it went away.
	kills, accepted, held, atOutage int
	// refused: lines the agents' receivers were refused (summed over the
	// agent processes; a refused batch counts again on every retry).
	refused         int
	batchHeld       bool // held was measured
	outage, elapsed time.Duration
	report          seqcheck.Report
}

func (r outageResult) String() string {
	held := ""
	if r.batchHeld {
		held = fmt.Sprintf(", the batch processor held %d", r.held)
	}
	return fmt.Sprintf("%d lines written by %d containers; %d lost, %d duplicates; gateway away %v; agent SIGKILLed %d times during the outage (its receivers had accepted %d lines%s; %d lines had reached the gateway before it went away); receivers refused %d lines; run took %v",
		r.lines, outageContainers, r.lost, r.dups, r.outage.Round(100*time.Millisecond), r.kills, r.accepted, held, r.atOutage, r.refused, r.elapsed.Round(100*time.Millisecond))
}

// badLines reports corrupt, misrouted or unexpected lines (never acceptable).
func (r outageResult) badLines() error {
	var errs []error
	for _, s := range r.report.Streams {
		if s.Corrupt > 0 || s.Misrouted > 0 || s.Unexpected > 0 || s.Expected < 0 {
			errs = append(errs, errors.New(s.String()))
		}
	}
	return errors.Join(errs...)
}

// runOutageScenario runs the agent with agentConfig through a gateway
// outage with a SIGKILL of the agent in the middle, and counts per line
// what reached the gateway.
func runOutageScenario(t *testing.T, e *dockertest.Engine, bin, agentConfig string, opts outageOptions) outageResult {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	id := randomID(t)
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	outPath := filepath.Join(dir, "out", "logs.json")
	gwAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	healthAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	metricsPort := freePort(t)

	// The gateway: the test's own, OTLP/gRPC in, OTLP-JSON file out,
	// appending across its restart.
	gwConfig := filepath.Join(dir, "gateway.yaml")
	writeJSON(t, gwConfig, map[string]any{
		"receivers": map[string]any{"otlp": map[string]any{"protocols": map[string]any{"grpc": map[string]any{"endpoint": gwAddr}}}},
		"exporters": map[string]any{"file": map[string]any{"path": outPath, "append": true, "create_directory": true}},
		"service": map[string]any{
			"pipelines": map[string]any{"logs": map[string]any{"receivers": []string{"otlp"}, "exporters": []string{"file"}}},
			"telemetry": map[string]any{"metrics": map[string]any{"level": "none"}},
		},
	})
	// The agent: the configuration under test plus this test's values for
	// what is host specific: storage directory, listen addresses, which
	// containers to follow. Processors, exporter and queue stay as given.
	override := filepath.Join(dir, "agent-test.yaml")
	agentTest := map[string]any{
		"receivers": map[string]any{"dockerlogsrotating": map[string]any{
			"endpoint": e.Endpoint(),
			"start_at": "beginning",
			"include":  map[string]any{"labels": []string{labelSource + "=" + id}},
		}},
		"extensions": map[string]any{
			"file_storage": map[string]any{"directory": storage},
			"health_check": map[string]any{"endpoint": healthAddr},
			"pprof":        map[string]any{"endpoint": "127.0.0.1:0"},
		},
		"service": map[string]any{"telemetry": map[string]any{"metrics": map[string]any{"readers": []any{
			map[string]any{"pull": map[string]any{"exporter": map[string]any{"prometheus": map[string]any{"host": "127.0.0.1", "port": metricsPort}}}},
		}}}},
	}
	if opts.queueSize > 0 {
		agentTest["exporters"] = map[string]any{"otlp_grpc": map[string]any{"sending_queue": map[string]any{"queue_size": opts.queueSize}}}
	}
	writeJSON(t, override, agentTest)
	agentEnv := []string{"GATEWAY_ENDPOINT=" + gwAddr}
	agentArgs := []string{"--config", agentConfig, "--config", override}
	metricsURL := "http://127.0.0.1:" + strconv.Itoa(metricsPort) + "/metrics"

	gateway := startCollector(t, bin, filepath.Join(dir, "gateway.log"), nil, "--config", gwConfig)
	if err := waitListening(ctx, gwAddr); err != nil {
		t.Fatalf("gateway: %v", err)
	}
	agent := startCollector(t, bin, filepath.Join(dir, "agent-1.log"), agentEnv, agentArgs...)
	if err := waitHealthy(ctx, "http://"+healthAddr+"/"); err != nil {
		t.Fatalf("agent health: %v", err)
	}

	var res outageResult
	var chk seqcheck.Checker
	var containers []*dockertest.Container
	writersStart := time.Now()
	names := map[string]bool{}
	for range outageContainers {
		c := e.Run(t, dockertest.RunOptions{
			Name:    "delivery",
			Args:    []string{"-n", strconv.Itoa(outageLinesEach), "-rate", strconv.Itoa(outageRate), "-then", "exit"},
			Labels:  map[string]string{labelSource: id, labelDeploy: id},
			LogOpts: map[string]string{"max-size": "500m"},
		})
		containers = append(containers, c)
		names[c.Name] = true
		chk.Expect(c.Name, "stdout", outageLinesEach)
	}
	out := &gatewayOutput{file: otlpFile{path: outPath}, names: names, checker: &chk}
	scrape := func() promText {
		m, err := scrapeMetrics(ctx, metricsURL)
		if err != nil {
			t.Fatalf("agent metrics: %v", err)
		}
		return m
	}

	// 1. Lines flow; then the gateway goes away.
	if err := waitFor(ctx, func() (bool, error) {
		err := out.poll()
		return out.unique() >= outageStartAfter, err
	}); err != nil {
		t.Fatalf("waiting for %d lines at the gateway: %v\n%s", outageStartAfter, err, chk.Report())
	}
	gateway.stop(t, syscall.SIGTERM)
	outageStart := time.Now()
	if err := out.poll(); err != nil { // what it flushed on the way out
		t.Fatal(err)
	}
	res.atOutage = out.unique()

	// 2. While it is away the agent keeps reading into its pipeline, and is
	// SIGKILLed with lines still being written, then started again on the
	// same storage; kills times. Each kill waits until the agent's receiver
	// handed on killAfter more lines (its own count, from 0 after a
	// restart). With opts.killWhileBatchHolds, it also waits until the
	// `batch` processor holds lines (the moment the old pipeline is
	// vulnerable; without one the shipped pipeline has no such moment).
	res.lines, res.kills, res.batchHeld = outageContainers*outageLinesEach, opts.kills, opts.killWhileBatchHolds
	base := scrape().value("otelcol_receiver_accepted_log_records", "")
	for k := 1; k <= opts.kills; k++ {
		var accepted, held, refused float64
		if err := waitFor(ctx, func() (bool, error) {
			m := scrape()
			accepted = m.value("otelcol_receiver_accepted_log_records", "")
			refused = m.value("otelcol_receiver_refused_log_records", "")
			if accepted < base+killAfter {
				return false, nil
			}
			if !opts.killWhileBatchHolds {
				return true, nil
			}
			// Into the batch processor (out of the processor before it),
			// minus what it sent on.
			held = m.value("otelcol_processor_outgoing_items", `processor="memory_limiter"`) -
				m.value("otelcol_processor_batch_batch_send_size_sum", "")
			return held > 0, nil
		}); err != nil {
			t.Fatalf("kill %d: waiting for the agent to accept %d lines during the outage (%v so far, %v in the batch processor): %v",
				k, killAfter, accepted-base, held, err)
		}
		agent.stop(t, syscall.SIGKILL)
		res.accepted += int(accepted)
		res.held += int(held)
		res.refused += int(refused)
		agent = startCollector(t, bin, filepath.Join(dir, fmt.Sprintf("agent-%d.log", k+1)), agentEnv, agentArgs...)
		if err := waitHealthy(ctx, "http://"+healthAddr+"/"); err != nil {
			t.Fatalf("agent health after kill %d: %v", k, err)
		}
		base = 0
	}
	if writing := time.Duration(outageLinesEach/outageRate) * time.Second; time.Since(writersStart) >= writing {
		t.Errorf("the last kill came %v after the writers started, when they had written everything (%v): the scenario no longer kills mid-stream",
			time.Since(writersStart).Round(100*time.Millisecond), writing)
	}

	// 3. The gateway comes back after outageMin.
	select {
	case <-time.After(time.Until(outageStart.Add(outageMin))):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	res.outage = time.Since(outageStart)
	gateway = startCollector(t, bin, filepath.Join(dir, "gateway-2.log"), nil, "--config", gwConfig)

	// 4. Until the writers exited and nothing moves any more: no new output,
	// nothing in the agent's queue (queued or in flight), the receiver
	// idle. With the shipped pipeline every line arrives first. Lines
	// missing while the receiver was refused may still be on their way
	// (its retries back off to 30 s): then wait for longer.
	for _, c := range containers {
		if code, err := c.Wait(ctx); err != nil || code != 0 {
			t.Fatalf("loggen %s: exit code %d, %v", c.Name, code, err)
		}
	}
	var last string
	var refused float64
	lastChange := time.Now()
	if err := waitFor(ctx, func() (bool, error) {
		if err := out.poll(); err != nil {
			return false, err
		}
		m := scrape()
		queue := m.value("otelcol_exporter_queue_size", "")
		refused = m.value("otelcol_receiver_refused_log_records", "")
		state := fmt.Sprintf("%d %v %v %v", out.records, queue, m.value("otelcol_receiver_accepted_log_records", ""), refused)
		if state != last {
			last, lastChange = state, time.Now()
		}
		need := quiet
		select {
		case <-chk.Done():
		default:
			if refused > 0 {
				need = quietAfterRefusal
			}
		}
		return queue == 0 && time.Since(lastChange) >= need, nil
	}); err != nil {
		t.Fatalf("waiting for the agent to settle: %v\n%s", err, chk.Report())
	}
	res.refused += int(refused)
	agent.stop(t, syscall.SIGTERM)
	gateway.stop(t, syscall.SIGTERM)
	if err := out.poll(); err != nil {
		t.Fatal(err)
	}

	res.report = chk.Report()
	for _, s := range res.report.Streams {
		res.lost += s.Missing
		res.dups += s.Duplicates
	}
	if out.foreign > 0 {
		t.Errorf("%d records of other containers reached the gateway (first: %q)", out.foreign, out.foreignName)
	}
	res.elapsed = time.Since(begin)
	if t.Failed() || res.lost > 0 {
		t.Logf("per container:\n%s", res.report)
	}
	return res
}

// gatewayOutput reads the gateway's file exporter output (one
// ExportLogsServiceRequest as OTLP-JSON per line) incrementally and feeds
// the records of the named containers to the checker.
type gatewayOutput struct {
	file    otlpFile
	names   map[string]bool
	checker *seqcheck.Checker

	records     int
	foreign     int
	foreignName string
}

func (g *gatewayOutput) poll() error {
	reqs, err := g.file.poll()
	for _, req := range reqs {
		req.eachRecord(func(resource []kv, body anyValue, attrs []kv) {
			name := attr(resource, "container.name")
			if !g.names[name] {
				if g.foreign == 0 {
					g.foreignName = name
				}
				g.foreign++
				return
			}
			g.records++
			g.checker.Add(name, attr(attrs, "log.iostream"), body.str())
		})
	}
	return err
}

// unique is the number of distinct lines that arrived.
func (g *gatewayOutput) unique() int {
	n := 0
	for _, s := range g.checker.Report().Streams {
		n += s.Unique
	}
	return n
}

// collector is a collector process of this test.
type collector struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  string
}

// startCollector starts bin with args, its output in logPath. t.Cleanup
// kills it if it still runs, and shows the end of its log when t failed.
func startCollector(t *testing.T, bin, logPath string, env []string, args ...string) *collector {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	// Dies with the test process, also when that is killed before its
	// cleanups run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &collector{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.stop(t, syscall.SIGKILL)
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("end of %s:\n%s", filepath.Base(logPath), b)
		}
	})
	return c
}

// stop signals the process unless it exited, and waits for it (SIGKILL
// after 30 s).
func (c *collector) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	select {
	case <-c.done:
		return
	default:
	}
	if err := c.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("signal %v to %s: %v", sig, filepath.Base(c.log), err)
	}
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop within 30 s of %v; killing it", filepath.Base(c.log), sig)
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// waitFor calls cond every pollInterval until it returns true or an error,
// or ctx ends.
func waitFor(ctx context.Context, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// waitListening waits until addr accepts TCP connections.
func waitListening(ctx context.Context, addr string) error {
	var d net.Dialer
	return waitFor(ctx, func() (bool, error) {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return false, nil
		}
		return true, conn.Close()
	})
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// promText is a collector's Prometheus exposition.
type promText string

// scrapeMetrics reads the collector's Prometheus endpoint.
func scrapeMetrics(ctx context.Context, url string) (promText, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	return promText(b), nil
}

// value sums the samples of one metric over the label sets that contain
// label (all when empty); counters may carry a _total suffix. A metric not
// (yet) exported, or unparsable, counts as 0.
func (p promText) value(name, label string) float64 {
	var sum float64
	for _, line := range strings.Split(string(p), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		metric, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		base, labels, _ := strings.Cut(metric, "{")
		if base != name && base != name+"_total" || !strings.Contains(labels, label) {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// TestShippedPipelinesKeepTheDeliveryChain checks the shipped
// configurations, the recipes of docs/recipes.md included, for what breaks the
// delivery guarantee: an asynchronous `batch` processor in a pipeline,
// memory_limiter not first, and a persistent sending queue that blocks or
// does not batch.
func TestShippedPipelinesKeepTheDeliveryChain(t *testing.T) {
	recipes, err := filepath.Glob("../testdata/recipes/*.yaml")
	if err != nil || len(recipes) == 0 {
		t.Fatalf("no recipes in testdata/recipes/ (%v)", err)
	}
	for _, path := range append([]string{"../config.yaml", "agent.yaml", "gateway.yaml"}, recipes...) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var cfg struct {
				Exporters map[string]struct {
					SendingQueue *struct {
						Enabled         *bool          `yaml:"enabled"`
						Storage         string         `yaml:"storage"`
						BlockOnOverflow bool           `yaml:"block_on_overflow"`
						Batch           map[string]any `yaml:"batch"`
					} `yaml:"sending_queue"`
				} `yaml:"exporters"`
				Service struct {
					Pipelines map[string]struct {
						Processors []string `yaml:"processors"`
						Exporters  []string `yaml:"exporters"`
					} `yaml:"pipelines"`
				} `yaml:"service"`
			}
			if err := yaml.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			if len(cfg.Service.Pipelines) == 0 {
				t.Fatal("no pipelines")
			}
			for name, p := range cfg.Service.Pipelines {
				for i, proc := range p.Processors {
					if typ, _, _ := strings.Cut(proc, "/"); typ == "batch" {
						t.Errorf("pipeline %s: processor %s accepts into memory and returns; batch in the exporter's sending_queue", name, proc)
					}
					if typ, _, _ := strings.Cut(proc, "/"); typ == "memory_limiter" && i != 0 {
						t.Errorf("pipeline %s: memory_limiter is processor %d, want first", name, i)
					}
				}
				if len(p.Processors) == 0 || !strings.HasPrefix(p.Processors[0], "memory_limiter") {
					t.Errorf("pipeline %s: processors %v, want memory_limiter first", name, p.Processors)
				}
				for _, exp := range p.Exporters {
					q := cfg.Exporters[exp].SendingQueue
					if q == nil || q.Storage == "" {
						continue
					}
					if q.Enabled != nil && !*q.Enabled {
						t.Errorf("exporter %s: sending_queue with storage but disabled", exp)
					}
					if q.BlockOnOverflow {
						t.Errorf("exporter %s: block_on_overflow: true blocks the receiver on a full queue; want a refusal it retries", exp)
					}
					if q.Batch == nil {
						t.Errorf("exporter %s: persistent sending_queue without batch", exp)
					}
				}
			}
		})
	}
	// The agent's exporter must queue on disk.
	b, err := os.ReadFile("agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var agent map[string]any
	if err := yaml.Unmarshal(b, &agent); err != nil {
		t.Fatal(err)
	}
	q, _ := mapAt(t, agent, "exporters", "otlp_grpc")["sending_queue"].(map[string]any)
	if q["storage"] != "file_storage" {
		t.Errorf("agent.yaml: otlp_grpc sending_queue %v, want storage: file_storage", q)
	}
}
