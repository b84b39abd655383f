// Package dockertest runs loggen containers on the real Docker Engine for
// integration tests, through the docker CLI.
//
//	func TestMain(m *testing.M) {
//		if err := dockertest.Sweep(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//		}
//		goleak.VerifyTestMain(m)
//	}
//
//	func TestX(t *testing.T) {
//		e := dockertest.Require(t)
//		c := e.Run(t, dockertest.RunOptions{Name: "x", Args: []string{"-n", "5"}})
//		code, err := c.Wait(ctx)
//	}
//
// Every container carries the labels LabelTest=1, LabelRun=<RunID> and
// LabelOwner, and is removed in t.Cleanup, also when the test fails. The
// loggen image (FROM scratch, ENTRYPOINT ["/loggen"]) is built once per test
// process and reused across processes while the loggen binary is unchanged.
package dockertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	// LabelTest is set to "1" on every object this package creates.
	LabelTest = "dockerlogsrotating.test"
	// LabelRun is set to the RunID of the creating test process.
	LabelRun = "dockerlogsrotating.test.run"
	// LabelOwner is "<hostname>/<pid>/<process start time>" of the creating
	// process; Sweep removes containers whose owner is gone.
	LabelOwner = "dockerlogsrotating.test.owner"
	// LabelLoggenHash is the sha256 of the loggen binary in the image.
	LabelLoggenHash = "dockerlogsrotating.loggen.sha256"
	// ImageRepo is the repository of the loggen image, tagged with the first
	// 16 hex digits of the binary's hash and with "test".
	ImageRepo = "dockerlogsrotating-loggen"

	loggenPkg = "github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/cmd/loggen"
	// cleanupTimeout bounds a cleanup's docker call.
	cleanupTimeout = 2 * time.Minute
)

// Engine is the Docker Engine with the loggen image built.
type Engine struct {
	endpoint string
	image    string // image ID, so that a concurrent retag cannot change it
	runID    string
	owner    string
	names    atomic.Int64

	// BuildTime is how long building the binary and the image took (the
	// image build is skipped when cached).
	BuildTime time.Duration
	// Cached is true when the image of this loggen binary already existed.
	Cached bool
}

var (
	once      sync.Once
	shared    *Engine
	sharedErr error
)

// Require returns the engine, building the loggen image on first use. It
// fails the test (does not skip) when Docker is unreachable or the build
// fails. Only `go test -short` (make unit) skips tests that need the engine.
func Require(t testing.TB) *Engine {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Docker Engine; skipped with -short")
	}
	first := false
	once.Do(func() {
		first = true
		shared, sharedErr = setup()
	})
	if sharedErr != nil {
		t.Fatalf("dockertest: %v", sharedErr)
	}
	if first {
		t.Logf("dockertest: loggen image %s ready in %v (cached %v), endpoint %s, run %s",
			shortID(shared.image), shared.BuildTime.Round(time.Millisecond), shared.Cached, shared.endpoint, shared.runID)
	}
	return shared
}

// Endpoint returns DOCKER_HOST, or unix:///var/run/docker.sock when unset.
func (e *Engine) Endpoint() string { return e.endpoint }

// Image returns the ID of the loggen image.
func (e *Engine) Image() string { return e.image }

// RunID returns the value of LabelRun on this process's containers, e.g. to
// make a receiver watch only them.
func (e *Engine) RunID() string { return e.runID }

func endpoint() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unix:///var/run/docker.sock"
}

// Docker runs the docker CLI and returns its stdout; the error includes
// stderr.
func (e *Engine) Docker(ctx context.Context, args ...string) ([]byte, error) {
	return docker(ctx, args...)
}

func docker(ctx context.Context, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0", "DOCKER_CLI_HINTS=false")
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

func setup() (*Engine, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := &Engine{endpoint: endpoint(), owner: OwnerLabel()}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	e.runID = hex.EncodeToString(b[:])
	if _, err := exec.LookPath("docker"); err != nil {
		return nil, fmt.Errorf("docker CLI not found: %w", err)
	}
	if _, err := docker(ctx, "version", "--format", "{{.Server.APIVersion}}"); err != nil {
		return nil, fmt.Errorf("docker engine unreachable at %s: %w", e.endpoint, err)
	}
	start := time.Now()
	dir, err := os.MkdirTemp("", "dockertest-loggen-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := BuildLoggen(ctx, filepath.Join(dir, "loggen")); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(filepath.Join(dir, "loggen"))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(bin)
	hash := hex.EncodeToString(sum[:])
	tag := ImageRepo + ":" + hash[:16]

	out, err := docker(ctx, "image", "inspect", "--format", "{{.Id}} {{index .Config.Labels \""+LabelLoggenHash+"\"}}", tag)
	if f := strings.Fields(string(out)); err == nil && len(f) == 2 && f[1] == hash {
		e.image, e.Cached = f[0], true
	} else {
		dockerfile := "FROM scratch\nCOPY loggen /loggen\nENTRYPOINT [\"/loggen\"]\n"
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
			return nil, err
		}
		iid := filepath.Join(dir, "iid")
		if _, err := docker(ctx, "build", "-q", "--iidfile", iid,
			"--label", LabelTest+"=1", "--label", LabelLoggenHash+"="+hash,
			"-t", tag, "-t", ImageRepo+":test", dir); err != nil {
			return nil, err
		}
		id, err := os.ReadFile(iid)
		if err != nil {
			return nil, err
		}
		e.image = strings.TrimSpace(string(id))
	}
	e.BuildTime = time.Since(start)
	return e, nil
}

// BuildLoggen builds the static loggen binary (linux, CGO off) at out.
func BuildLoggen(ctx context.Context, out string) error {
	gobin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go" // go test puts GOROOT/bin first in PATH
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, loggenPkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build loggen: %w: %s", err, stderr.Bytes())
	}
	return nil
}

// RunOptions configure Engine.Run.
type RunOptions struct {
	// Name prefixes the container name; a unique suffix is always added
	// (other test processes may share the engine). Default "dlr".
	Name string
	// Args are loggen's arguments.
	Args []string
	// TTY allocates a terminal (docker run -t): one raw stream, \r\n endings.
	TTY bool
	// Labels are added to the test labels.
	Labels map[string]string
	// Env entries are KEY=value.
	Env []string
	// LogDriver defaults to the engine's (json-file).
	LogDriver string
	// LogOpts, e.g. {"max-size": "10k", "max-file": "3"}.
	LogOpts map[string]string
	// Restart is the restart policy (docker run --restart), e.g. "always".
	Restart string
}

// Container is a loggen container started by Engine.Run.
type Container struct {
	ID   string
	Name string
}

// Run starts a detached loggen container and registers its removal with
// t.Cleanup. It fails the test when the container cannot be started.
func (e *Engine) Run(t testing.TB, o RunOptions) *Container {
	t.Helper()
	prefix := o.Name
	if prefix == "" {
		prefix = "dlr"
	}
	c := &Container{Name: fmt.Sprintf("%s-%s-%d", prefix, e.runID, e.names.Add(1))}
	// Registered before docker run, which may create the container and fail
	// to start it.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := c.Remove(ctx); err != nil {
			t.Errorf("dockertest: cleanup: %v", err)
		}
	})
	args := []string{"run", "-d", "--name", c.Name,
		"--label", LabelTest + "=1", "--label", LabelRun + "=" + e.runID, "--label", LabelOwner + "=" + e.owner}
	for _, k := range sortedKeys(o.Labels) {
		args = append(args, "--label", k+"="+o.Labels[k])
	}
	for _, v := range o.Env {
		args = append(args, "-e", v)
	}
	if o.TTY {
		args = append(args, "-t")
	}
	if o.LogDriver != "" {
		args = append(args, "--log-driver", o.LogDriver)
	}
	if o.Restart != "" {
		args = append(args, "--restart", o.Restart)
	}
	for _, k := range sortedKeys(o.LogOpts) {
		args = append(args, "--log-opt", k+"="+o.LogOpts[k])
	}
	args = append(args, e.image)
	args = append(args, o.Args...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := docker(ctx, args...)
	if err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	c.ID = strings.TrimSpace(string(out))
	return c
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c *Container) ref() string {
	if c.ID != "" {
		return c.ID
	}
	return c.Name
}

// Wait blocks until the container exits (docker wait) and returns its exit
// code.
func (c *Container) Wait(ctx context.Context) (int, error) {
	out, err := docker(ctx, "wait", c.ref())
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(strings.TrimSpace(string(out)))
}

// Stop sends SIGTERM, then SIGKILL after 10 s (docker stop).
func (c *Container) Stop(ctx context.Context) error {
	_, err := docker(ctx, "stop", c.ref())
	return err
}

// Kill sends signal ("" for SIGKILL).
func (c *Container) Kill(ctx context.Context, signal string) error {
	args := []string{"kill"}
	if signal != "" {
		args = append(args, "--signal", signal)
	}
	_, err := docker(ctx, append(args, c.ref())...)
	return err
}

// Restart stops (if running) and starts the container again; loggen starts
// over at seq 1, appending to the same log.
func (c *Container) Restart(ctx context.Context) error {
	_, err := docker(ctx, "restart", c.ref())
	return err
}

// Remove force-removes the container; removing a missing one is no error.
func (c *Container) Remove(ctx context.Context) error {
	_, err := docker(ctx, "rm", "-f", "-v", c.ref())
	if err != nil && strings.Contains(err.Error(), "No such container") {
		return nil
	}
	return err
}

// Logs returns what docker logs prints on stdout and on stderr.
func (c *Container) Logs(ctx context.Context) (stdout, stderr []byte, err error) {
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", "logs", c.ref())
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		return nil, nil, fmt.Errorf("docker logs %s: %w: %s", c.Name, err, bytes.TrimSpace(e.Bytes()))
	}
	return o.Bytes(), e.Bytes(), nil
}

// Follow streams docker logs --follow of the container: it calls fn (from two
// goroutines, one per stream) with each line, its '\n' removed (a TTY line
// keeps its '\r'), and returns when the container has stopped and its log
// was read to the end, or when ctx ends.
func (c *Container) Follow(ctx context.Context, fn func(stream, line string)) error {
	cmd := exec.CommandContext(ctx, "docker", "logs", "--follow", c.ref())
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	errPipe, err := cmd.StderrPipe() // also gets the CLI's own messages
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	read := func(stream string, r io.Reader) {
		defer wg.Done()
		br := bufio.NewReaderSize(r, 64<<10)
		for {
			line, err := br.ReadString('\n')
			if strings.HasSuffix(line, "\n") {
				fn(stream, line[:len(line)-1])
			} else if line != "" {
				fn(stream, line) // the log ended without a final newline
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go read("stdout", outPipe)
	go read("stderr", errPipe)
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("docker logs --follow %s: %w", c.Name, err)
	}
	return nil
}

// LogPath returns the path of the container's log file on the engine host
// (json-file and local drivers).
func (c *Container) LogPath(ctx context.Context) (string, error) {
	out, err := docker(ctx, "inspect", "--format", "{{.LogPath}}", c.ref())
	return strings.TrimSpace(string(out)), err
}

// Sweep removes containers labeled LabelTest whose creating process is gone
// (crashed or interrupted runs), leaving those of live test processes alone.
// Call it from TestMain; an unreachable engine is returned as an error.
func Sweep() error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	out, err := docker(ctx, "ps", "-a", "--filter", "label="+LabelTest,
		"--format", "{{.ID}}\t{{.Label \""+LabelOwner+"\"}}")
	if err != nil {
		return fmt.Errorf("dockertest: sweep: %w", err)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		id, owner, _ := strings.Cut(line, "\t")
		if id != "" && !OwnerAlive(owner) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := docker(ctx, append([]string{"rm", "-f", "-v"}, ids...)...); err != nil && !strings.Contains(err.Error(), "No such container") {
		return fmt.Errorf("dockertest: sweep: %w", err)
	}
	return nil
}

// OwnerLabel is this process's value of the owner label: host/pid/start.
func OwnerLabel() string {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return fmt.Sprintf("%s/%d/%s", host, pid, procStart(pid))
}

// OwnerAlive reports whether the process of an owner label may still run.
// Containers of other hosts are treated as alive.
func OwnerAlive(owner string) bool {
	f := strings.Split(owner, "/")
	if len(f) != 3 {
		return false // no or foreign label: a leftover
	}
	if host, _ := os.Hostname(); f[0] != host {
		return true
	}
	pid, err := strconv.Atoi(f[1])
	if err != nil {
		return false
	}
	if pid == os.Getpid() || f[2] == "" { // f[2] == "": no /proc there, cannot tell
		return true
	}
	start := procStart(pid)
	return start != "" && start == f[2]
}

// procStart returns the start time of pid in clock ticks since boot
// (/proc/<pid>/stat field 22), "" when the process does not exist.
func procStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces: count after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19] // field 22: fields after ')' start at field 3
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
