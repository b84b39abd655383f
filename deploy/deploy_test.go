// Package deploy_test checks the deploy/ files end to end on the real Docker
// Engine: the image of deploy/Dockerfile, the agent and gateway
// configurations, and deploy/docker-compose.yml.
//
// TestComposeAgentGatewayExactlyOnce builds the image (deploy/build-image.sh,
// which first builds the collector with scripts/build-collector.sh when the
// binary is missing or older than its sources: ~2 min cold, seconds warm),
// brings the compose project up under a unique name, starts a loggen
// container, and reads the gateway's file exporter output until every line
// is there, then checks each arrived exactly once. Everything it creates
// (image, containers, network, volumes) carries the dockertest labels and is
// removed in t.Cleanup, also on failure; TestMain sweeps what a killed run
// left behind. TestSwarmStackRendersAGlobalReadOnlyAgent renders
// deploy/stack.yml without deploying it. Both are skipped with -short.
package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
)

const (
	// labelDeploy marks every object of this package with the test's id, so
	// that TestMain can find networks, volumes and images of dead runs.
	labelDeploy = "dockerlogsrotating.deploy.test"
	// labelSource is on the loggen container only: the agent's include.
	labelSource = "dockerlogsrotating.deploy.source"

	numLines = 2000

	// pollInterval is how often the gateway's output is read.
	pollInterval = 200 * time.Millisecond
	// settle is how long the output keeps being read after the last
	// expected line arrived, to catch late duplicates: above the agent's
	// and the gateway's batch timeouts (200 ms each) plus a rotation.
	settle = 3 * time.Second
	// deliveryTimeout bounds the wait for the last line at the gateway
	// (about 3 s here for 2,000 lines written at 1,000 lines/s).
	deliveryTimeout = 2 * time.Minute
)

func TestMain(m *testing.M) {
	if err := dockertest.Sweep(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		sweepDeploy()
	}
	goleak.VerifyTestMain(m)
}

func TestComposeAgentGatewayExactlyOnce(t *testing.T) {
	e := dockertest.Require(t) // skips under -short
	compose := composeCommand(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	id := randomID(t)
	project := "dlr-deploy-" + id
	image := "dockerlogsrotating/otelcol-dockerlogs:test-" + id
	labels := map[string]string{
		dockertest.LabelTest:  "1",
		dockertest.LabelOwner: dockertest.OwnerLabel(),
		labelDeploy:           id,
	}
	// host.name is the daemon's own name, also inside the agent's container.
	info, err := e.Docker(context.Background(), "info", "--format", "{{.Name}}")
	if err != nil {
		t.Fatal(err)
	}
	hostName := strings.TrimSpace(string(info))

	// 1. The image (and the collector, when it is stale).
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if out, err := run(ctx, nil, "docker", "image", "rm", "-f", image); err != nil && !strings.Contains(string(out), "No such image") {
			t.Errorf("cleanup: %v", err)
		}
	})
	start := time.Now()
	args := []string{filepath.Join(root, "deploy", "build-image.sh"), "-q"}
	for k, v := range labels {
		args = append(args, "--label", k+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	out, err := run(ctx, []string{"IMAGE=" + image}, "bash", args...)
	cancel()
	if err != nil {
		t.Fatalf("deploy/build-image.sh: %v", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "==> ") {
			t.Logf("build-image.sh: %s", strings.TrimPrefix(l, "==> "))
		}
	}
	t.Logf("collector + image %s ready in %v", image, time.Since(start).Round(time.Millisecond))

	// 2. The compose project, with a test override: the agent follows only
	// this test's loggen container and reads it from the beginning, with
	// short rotations so that several reopens happen while it writes; the
	// gateway writes into a directory of this test, as this test's user.
	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	agentTest := map[string]any{"receivers": map[string]any{"dockerlogsrotating": map[string]any{
		"start_at":          "beginning",
		"rotation_interval": "1s",
		"include":           map[string]any{"labels": []string{labelSource + "=" + id}},
	}}}
	override := map[string]any{
		"version": "3.8",
		"services": map[string]any{
			"agent": map[string]any{
				"command": []string{"--config", "/etc/otelcol/config.yaml", "--config", "/etc/otelcol/test.yaml"},
				"volumes": []string{filepath.Join(dir, "agent-test.yaml") + ":/etc/otelcol/test.yaml:ro"},
				"labels":  labels,
			},
			"gateway": map[string]any{
				"user":   fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()),
				"labels": labels,
			},
		},
		"volumes":  map[string]any{"agent-storage": map[string]any{"labels": labels}, "gateway-out": map[string]any{"labels": labels}},
		"networks": map[string]any{"default": map[string]any{"labels": labels}},
	}
	writeJSON(t, filepath.Join(dir, "agent-test.yaml"), agentTest) // JSON is YAML
	writeJSON(t, filepath.Join(dir, "docker-compose.test.yml"), override)

	composeArgs := []string{"-p", project, "-f", filepath.Join(root, "deploy", "docker-compose.yml"), "-f", filepath.Join(dir, "docker-compose.test.yml")}
	composeEnv := []string{"DLR_IMAGE=" + image, "GATEWAY_OUT=" + outDir,
		"AGENT_HEALTH_PORT=0", "GATEWAY_HEALTH_PORT=0"}
	dc := func(ctx context.Context, args ...string) ([]byte, error) {
		full := append(append(append([]string{}, compose[1:]...), composeArgs...), args...)
		return run(ctx, composeEnv, compose[0], full...)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if t.Failed() {
			if out, err := dc(ctx, "logs", "--no-color", "--tail", "100"); err == nil {
				t.Logf("compose logs:\n%s", out)
			}
		}
		start := time.Now()
		if _, err := dc(ctx, "down", "-v", "--remove-orphans", "-t", "10"); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		t.Logf("compose down -v in %v", time.Since(start).Round(time.Millisecond))
	})
	start = time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := dc(ctx, "up", "-d"); err != nil {
		t.Fatal(err)
	}
	out, err = dc(ctx, "port", "agent", "13133")
	if err != nil {
		t.Fatal(err)
	}
	health := "http://" + strings.TrimSpace(string(out)) + "/"
	if err := waitHealthy(ctx, health); err != nil {
		t.Fatalf("agent health at %s: %v", health, err)
	}
	t.Logf("compose project %s up, agent healthy (%s) in %v", project, health, time.Since(start).Round(time.Millisecond))

	// 3. The writer, and the gateway's output until every line is there.
	start = time.Now()
	c := e.Run(t, dockertest.RunOptions{
		Name:   "deploy",
		Args:   []string{"-n", strconv.Itoa(numLines), "-rate", "1000", "-then", "exit"},
		Labels: map[string]string{labelSource: id},
	})
	var chk seqcheck.Checker
	chk.Expect(c.Name, "stdout", numLines)
	r := &outputReader{file: otlpFile{path: filepath.Join(outDir, "logs.json")}, container: c.Name, hostName: hostName, checker: &chk}
	deadline := time.Now().Add(deliveryTimeout)
	for {
		if err := r.poll(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-chk.Done():
		default:
			if time.Now().After(deadline) {
				t.Fatalf("not every line reached the gateway within %v:\n%s", deliveryTimeout, chk.Report())
			}
			time.Sleep(pollInterval)
			continue
		}
		break
	}
	delivered := time.Since(start)
	if code, err := c.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("loggen: exit code %d, %v", code, err)
	}
	for end := time.Now().Add(settle); time.Now().Before(end); {
		time.Sleep(pollInterval)
		if err := r.poll(); err != nil {
			t.Fatal(err)
		}
	}

	// 4. Exactly once, nothing else, and the agent's host.name.
	rep := chk.Report()
	s, _ := rep.Stream(c.Name, "stdout")
	t.Logf("%d lines written; gateway output: %d records of the loggen container (%d unique, %d duplicates, %d missing), %d records of other containers, %d requests; all lines at the gateway %v after the container started",
		numLines, s.Received, s.Unique, s.Duplicates, s.Missing, r.foreign, r.requests, delivered.Round(time.Millisecond))
	if err := rep.Err(); err != nil {
		t.Error(err)
	}
	if r.foreign > 0 {
		t.Errorf("%d records of other containers reached the gateway (first: %q); the agent must follow only the loggen container", r.foreign, r.foreignName)
	}
	if r.badHost > 0 {
		t.Errorf("%d records without host.name=%s (first: %q)", r.badHost, hostName, r.firstBadHost)
	}
}

// outputReader reads the file exporter's output (one ExportLogsServiceRequest
// as OTLP-JSON per line) incrementally and feeds the loggen container's
// records to the checker.
type outputReader struct {
	file      otlpFile
	container string
	checker   *seqcheck.Checker
	hostName  string

	requests     int
	foreign      int
	foreignName  string
	badHost      int
	firstBadHost string
}

type otlpJSON struct {
	ResourceLogs []struct {
		Resource struct {
			Attributes []kv `json:"attributes"`
		} `json:"resource"`
		ScopeLogs []struct {
			LogRecords []struct {
				Body       anyValue `json:"body"`
				Attributes []kv     `json:"attributes"`
			} `json:"logRecords"`
		} `json:"scopeLogs"`
	} `json:"resourceLogs"`
}

// eachRecord calls fn with each log record of the request: the attributes
// of its resource, its body and its own attributes.
func (req otlpJSON) eachRecord(fn func(resource []kv, body anyValue, attrs []kv)) {
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			for _, lr := range sl.LogRecords {
				fn(rl.Resource.Attributes, lr.Body, lr.Attributes)
			}
		}
	}
}

type kv struct {
	Key   string   `json:"key"`
	Value anyValue `json:"value"`
}

type anyValue struct {
	StringValue *string `json:"stringValue"`
}

// str is the value's string, or "" if it has none.
func (v anyValue) str() string {
	if v.StringValue == nil {
		return ""
	}
	return *v.StringValue
}

func attr(attrs []kv, key string) string {
	for _, a := range attrs {
		if a.Key == key && a.Value.StringValue != nil {
			return *a.Value.StringValue
		}
	}
	return ""
}

// otlpFile reads a file exporter's output (one ExportLogsServiceRequest as
// OTLP-JSON per line) incrementally: each poll decodes the requests written
// completely since the last one.
type otlpFile struct {
	path    string
	offset  int64
	partial []byte // a request still being written
}

func (o *otlpFile) poll() ([]otlpJSON, error) {
	f, err := os.Open(o.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // nothing exported yet
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(o.offset, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	o.offset += int64(len(b))
	b = append(o.partial, b...)
	last := bytes.LastIndexByte(b, '\n')
	if last < 0 {
		o.partial = b
		return nil, nil
	}
	o.partial = append([]byte(nil), b[last+1:]...)
	var reqs []otlpJSON
	sc := bufio.NewScanner(bytes.NewReader(b[:last+1]))
	sc.Buffer(nil, 256<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var req otlpJSON
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return reqs, fmt.Errorf("gateway output: %w: %.200s", err, sc.Bytes())
		}
		reqs = append(reqs, req)
	}
	return reqs, sc.Err()
}

func (r *outputReader) poll() error {
	reqs, err := r.file.poll()
	for _, req := range reqs {
		r.requests++
		req.eachRecord(func(resource []kv, body anyValue, attrs []kv) {
			name := attr(resource, "container.name")
			if name != r.container {
				if r.foreign == 0 {
					r.foreignName = name
				}
				r.foreign++
				return
			}
			if host := attr(resource, "host.name"); host != r.hostName {
				if r.badHost == 0 {
					r.firstBadHost = host
				}
				r.badHost++
			}
			r.checker.Add(name, attr(attrs, "log.iostream"), body.str())
		})
	}
	return err
}

// waitHealthy polls the health_check extension until it answers 200.
func waitHealthy(ctx context.Context, url string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				client.CloseIdleConnections()
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			client.CloseIdleConnections()
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

// composeCommand returns docker-compose (v1) or, without it, docker compose
// (v2).
func composeCommand(t *testing.T) []string {
	t.Helper()
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	if err := exec.Command("docker", "compose", "version").Run(); err == nil {
		return []string{"docker", "compose"}
	}
	t.Fatal("needs docker-compose (v1) or the docker compose plugin (v2)")
	return nil
}

// run runs a command with extra environment and returns its stdout; the
// error carries stderr.
func run(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(append(os.Environ(), "DOCKER_CLI_HINTS=false", "COMPOSE_INTERACTIVE_NO_CLI=1"), env...)
	if err := cmd.Run(); err != nil {
		return append(stdout.Bytes(), stderr.Bytes()...), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randomID(t *testing.T) string {
	t.Helper()
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// sweepDeploy removes the networks, volumes and images that a killed run of
// this package left (dockertest.Sweep has removed its containers already).
func sweepDeploy() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	format := "{{.ID}}\t{{.Label \"" + dockertest.LabelOwner + "\"}}"
	for _, kind := range []string{"network", "volume"} {
		if kind == "volume" {
			format = "{{.Name}}\t{{.Label \"" + dockertest.LabelOwner + "\"}}"
		}
		out, err := run(ctx, nil, "docker", kind, "ls", "--filter", "label="+labelDeploy, "--format", format)
		if err != nil {
			fmt.Fprintf(os.Stderr, "deploy: sweep %ss: %v\n", kind, err)
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if id, owner, _ := strings.Cut(line, "\t"); id != "" && !dockertest.OwnerAlive(owner) {
				_, _ = run(ctx, nil, "docker", kind, "rm", id)
			}
		}
	}
	out, err := run(ctx, nil, "docker", "image", "ls", "-q", "--no-trunc", "--filter", "label="+labelDeploy)
	if err != nil {
		fmt.Fprintf(os.Stderr, "deploy: sweep images: %v\n", err)
		return
	}
	for _, id := range strings.Fields(string(out)) {
		o, err := run(ctx, nil, "docker", "image", "inspect", "--format", "{{index .Config.Labels \""+dockertest.LabelOwner+"\"}}\t{{join .RepoTags \" \"}}", id)
		if err != nil {
			continue
		}
		owner, tags, _ := strings.Cut(strings.TrimSpace(string(o)), "\t")
		if !dockertest.OwnerAlive(owner) {
			for _, tag := range strings.Fields(tags) {
				_, _ = run(ctx, nil, "docker", "image", "rm", tag)
			}
		}
	}
}

// TestSwarmStackRendersAGlobalReadOnlyAgent renders deploy/stack.yml with
// `docker stack config` (no swarm needed, nothing is deployed) and checks
// what makes it a per-host agent: the agent service runs in global mode
// with the image asked for, reads the socket through a read-only bind, and
// keeps its positions in a volume; the gateway is replicated.
func TestSwarmStackRendersAGlobalReadOnlyAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the docker CLI")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "stack", "config", "-c", "stack.yml")
	cmd.Env = append(os.Environ(), "DLR_IMAGE=registry.example/otelcol-dockerlogs:test")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker stack config -c stack.yml: %v\n%s", err, out)
	}
	var stack struct {
		Services map[string]struct {
			Image  string `yaml:"image"`
			Deploy struct {
				Mode     string `yaml:"mode"`
				Replicas *int   `yaml:"replicas"`
			} `yaml:"deploy"`
			Volumes []struct {
				Type     string `yaml:"type"`
				Source   string `yaml:"source"`
				Target   string `yaml:"target"`
				ReadOnly bool   `yaml:"read_only"`
			} `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(out, &stack); err != nil {
		t.Fatalf("rendered stack: %v\n%s", err, out)
	}
	agent, ok := stack.Services["agent"]
	if !ok {
		t.Fatalf("no agent service in\n%s", out)
	}
	if agent.Deploy.Mode != "global" || agent.Image != "registry.example/otelcol-dockerlogs:test" {
		t.Errorf("agent: mode %q image %q, want global and the DLR_IMAGE image", agent.Deploy.Mode, agent.Image)
	}
	var socketRO, storage bool
	for _, v := range agent.Volumes {
		switch {
		case v.Target == "/var/run/docker.sock":
			socketRO = v.Type == "bind" && v.ReadOnly
		case v.Type == "volume" && strings.Contains(v.Target, "storage"):
			storage = true
		}
	}
	if !socketRO || !storage {
		t.Errorf("agent volumes %+v: socket bound read-only %v, storage volume %v; want both", agent.Volumes, socketRO, storage)
	}
	if gw := stack.Services["gateway"]; gw.Deploy.Mode == "global" {
		t.Errorf("gateway runs in global mode; want replicated")
	}
}
