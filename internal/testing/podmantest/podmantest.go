// Package podmantest runs a private Podman API service (podman system
// service, Podman's Docker-compatible Engine API) with loggen containers, for
// integration tests of the receiver against Podman.
//
//	func TestX(t *testing.T) {
//		p := podmantest.Require(t)
//		c := p.Run(t, podmantest.RunOptions{Name: "x", Args: []string{"-n", "5"}})
//		// point a receiver at p.Endpoint(), include label LabelRun=p.RunID()
//	}
//
// Each Require starts its own service on a socket in a temporary directory
// that also holds all of its state (storage, runtime files, events), with
// the k8s-file log driver and no network for containers, and builds the
// loggen image into it. t.Cleanup removes the containers, stops the service
// and deletes the directory, also when the test fails; directories that a
// crashed test process left behind are swept by the next Require.
//
// Podman is installed with apt-get when it is missing. The environment
// variable DLR_PODMAN decides what happens when that is impossible: "1"
// fails the test, unset skips it, and "0" skips every Podman test without
// trying. `go test -short` skips them too.
package podmantest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
)

const (
	// LabelRun is set on every container to the service's RunID.
	LabelRun = dockertest.LabelRun
	// EnvRequire names the variable that makes a missing Podman fail the
	// test ("1") or skips Podman tests without installing ("0").
	EnvRequire = "DLR_PODMAN"

	dirPrefix = "dlr-podman-"
	image     = "localhost/dlr-loggen:test"
	// cleanupTimeout bounds each podman call of a cleanup.
	cleanupTimeout = 2 * time.Minute
)

// containersConf is the service's configuration (CONTAINERS_CONF). The
// machines this runs on refuse Podman's default nofile and nproc ulimits,
// which default_ulimits = [] leaves alone; cgroupfs and the events file
// need no systemd.
const containersConf = `[containers]
default_ulimits = []
log_driver = "k8s-file"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
`

// Service is a running podman system service with the loggen image.
type Service struct {
	endpoint string
	dir      string
	runID    string
	names    atomic.Int64

	// Version is Podman's version (podman version --format {{.Client.Version}}).
	Version string
	// InstallTime is how long apt-get took to install Podman in this
	// process, 0 when it was installed already.
	InstallTime time.Duration
	// StartTime is how long starting the service and building the image took.
	StartTime time.Duration
}

var (
	installOnce sync.Once
	installTook time.Duration
	installErr  error
)

// Require starts a service for the test and registers its teardown. It
// skips or fails the test as the package doc says when Podman is missing
// and cannot be installed; it fails the test when Podman is there but the
// service does not start.
func Require(t testing.TB) *Service {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Podman; skipped with -short")
	}
	required := os.Getenv(EnvRequire) == "1"
	if os.Getenv(EnvRequire) == "0" {
		t.Skip(EnvRequire + "=0: Podman tests are off")
	}
	installOnce.Do(func() {
		sweep()
		installTook, installErr = install()
	})
	if installErr != nil {
		if required {
			t.Fatalf("podmantest: %s=1 requires Podman: %v", EnvRequire, installErr)
		}
		t.Skipf("podmantest: Podman unavailable (set %s=1 to fail instead): %v", EnvRequire, installErr)
	}
	s, err := start(t)
	if err != nil {
		t.Fatalf("podmantest: %v", err)
	}
	s.InstallTime = installTook
	t.Logf("podmantest: Podman %s (installed in %v) serving %s, ready in %v",
		s.Version, s.InstallTime.Round(time.Millisecond), s.endpoint, s.StartTime.Round(time.Millisecond))
	return s
}

// install installs podman with apt-get unless it is on PATH.
func install() (time.Duration, error) {
	if _, err := exec.LookPath("podman"); err == nil {
		return 0, nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return 0, errors.New("podman is not installed, and there is no apt-get to install it")
	}
	if os.Geteuid() != 0 {
		return 0, errors.New("podman is not installed, and installing it with apt-get needs root")
	}
	// Test processes of several packages may get here at once: one installs,
	// the others wait for it and find podman.
	guard, err := os.OpenFile(filepath.Join(os.TempDir(), "dlr-podman-install.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return 0, err
	}
	defer guard.Close()
	if err := syscall.Flock(int(guard.Fd()), syscall.LOCK_EX); err != nil {
		return 0, fmt.Errorf("lock the install: %w", err)
	}
	if _, err := exec.LookPath("podman"); err == nil {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	begin := time.Now()
	lock := []string{"-o", "DPkg::Lock::Timeout=300"} // another apt may run
	for _, args := range [][]string{
		append([]string{"update", "-qq"}, lock...),
		append([]string{"install", "-y", "-qq", "--no-install-recommends"}, append(lock, "podman")...),
	} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("apt-get %s: %w: %s", strings.Join(args, " "), err, tail(out))
		}
	}
	if _, err := exec.LookPath("podman"); err != nil {
		return 0, fmt.Errorf("apt-get installed podman, but it is not on PATH: %w", err)
	}
	return time.Since(begin), nil
}

// global are the podman options that keep all state in dir.
func global(dir string) []string {
	return []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
		"--tmpdir", filepath.Join(dir, "tmp"), "--storage-driver", "overlay"}
}

// podman runs the podman CLI on dir's state and returns its stdout; the
// error includes stderr.
func podman(ctx context.Context, dir string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "podman", append(global(dir), args...)...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("podman %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// Podman runs the podman CLI against the service's state.
func (s *Service) Podman(ctx context.Context, args ...string) ([]byte, error) {
	return podman(ctx, s.dir, args...)
}

// Endpoint is the service's unix:// address.
func (s *Service) Endpoint() string { return s.endpoint }

// RunID is the value of LabelRun on the service's containers.
func (s *Service) RunID() string { return s.runID }

func start(t testing.TB) (*Service, error) {
	begin := time.Now()
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, err
	}
	s := &Service{dir: dir}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	s.runID = hex.EncodeToString(b[:])
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(dockertest.OwnerLabel()), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "containers.conf"), []byte(containersConf), 0o644); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	sock := filepath.Join(dir, "podman.sock")
	s.endpoint = "unix://" + sock
	logPath := filepath.Join(dir, "service.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command("podman", append(global(dir), "system", "service", "--time=0", s.endpoint)...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start podman system service: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	_ = os.WriteFile(filepath.Join(dir, "service.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	t.Cleanup(func() { s.teardown(t, cmd.Process, exited, logPath) })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := waitReady(ctx, sock, exited); err != nil {
		return nil, fmt.Errorf("podman system service: %w; its log:\n%s", err, readTail(logPath))
	}
	out, err := podman(ctx, dir, "version", "--format", "{{.Client.Version}}")
	if err != nil {
		return nil, err
	}
	s.Version = strings.TrimSpace(string(out))
	if err := s.buildImage(ctx); err != nil {
		return nil, err
	}
	s.StartTime = time.Since(begin)
	return s, nil
}

// waitReady waits until the service answers GET /_ping, or it exited.
func waitReady(ctx context.Context, sock string, exited <-chan struct{}) error {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	tick := time.NewTicker(20 * time.Millisecond) // no event says the socket listens
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://podman/_ping", nil)
		if err != nil {
			return err
		}
		if res, err := hc.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("exited before it answered")
		case <-ctx.Done():
			return fmt.Errorf("no answer on %s: %w", sock, ctx.Err())
		case <-tick.C:
		}
	}
}

// buildImage builds the FROM scratch loggen image into the service's storage.
func (s *Service) buildImage(ctx context.Context) error {
	dir := filepath.Join(s.dir, "image")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if err := dockertest.BuildLoggen(ctx, filepath.Join(dir, "loggen")); err != nil {
		return err
	}
	df := "FROM scratch\nCOPY loggen /loggen\nENTRYPOINT [\"/loggen\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(df), 0o644); err != nil {
		return err
	}
	_, err := s.Podman(ctx, "build", "-q", "--network", "none", "-t", image, dir)
	return err
}

// teardown removes the containers, stops the service and deletes its
// directory; problems fail the test.
func (s *Service) teardown(t testing.TB, p *os.Process, exited <-chan struct{}, logPath string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if t.Failed() {
		t.Logf("podmantest: the service's log:\n%s", readTail(logPath))
	}
	if err := clean(ctx, s.dir, p, exited); err != nil {
		t.Errorf("podmantest: cleanup: %v", err)
	}
}

// clean removes every container of dir's state, stops the service p (if
// known), removes the state and the directory.
func clean(ctx context.Context, dir string, p *os.Process, exited <-chan struct{}) error {
	var errs []error
	if _, err := podman(ctx, dir, "rm", "-a", "-f", "-t", "0"); err != nil {
		errs = append(errs, err)
	}
	if p != nil {
		_ = p.Signal(syscall.SIGTERM)
		t := time.NewTimer(30 * time.Second)
		select {
		case <-exited:
		case <-t.C:
			_ = p.Kill()
			<-exited
		}
		t.Stop()
	}
	// Unmounts and deletes the storage, runtime and tmp directories.
	if _, err := podman(ctx, dir, "system", "reset", "-f"); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// sweep cleans up after test processes that died without their cleanup:
// directories whose owner process is gone.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		owner, err := os.ReadFile(filepath.Join(dir, "owner"))
		if err != nil || dockertest.OwnerAlive(string(owner)) {
			continue
		}
		var p *os.Process
		exited := make(chan struct{})
		if pid, err := readPid(filepath.Join(dir, "service.pid")); err == nil && serves(pid, dir) {
			if p, err = os.FindProcess(pid); err == nil {
				// Not our child: wait by polling that it is gone.
				go func() {
					for syscall.Kill(pid, 0) == nil && serves(pid, dir) {
						time.Sleep(50 * time.Millisecond)
					}
					close(exited)
				}()
			}
		}
		if p == nil {
			close(exited)
		}
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		if err := clean(ctx, dir, p, exited); err != nil {
			fmt.Fprintf(os.Stderr, "podmantest: sweep %s: %v\n", dir, err)
		}
		cancel()
	}
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// serves reports whether pid is a podman service of dir (its command line
// names the directory), so a reused pid is never signalled.
func serves(pid int, dir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(b, []byte(dir)) && bytes.Contains(b, []byte("service"))
}

// RunOptions configure Service.Run.
type RunOptions struct {
	// Name prefixes the container name; a unique suffix is added.
	Name string
	// Args are loggen's arguments.
	Args []string
	// TTY allocates a terminal (podman run -t).
	TTY bool
}

// Container is a loggen container started by Service.Run.
type Container struct {
	ID, Name string
}

// Run starts a detached loggen container (k8s-file log driver, no network)
// and registers its removal with t.Cleanup.
func (s *Service) Run(t testing.TB, o RunOptions) *Container {
	t.Helper()
	prefix := o.Name
	if prefix == "" {
		prefix = "dlr"
	}
	c := &Container{Name: fmt.Sprintf("%s-%s-%d", prefix, s.runID, s.names.Add(1))}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if _, err := s.Podman(ctx, "rm", "-f", "-t", "0", "--ignore", c.Name); err != nil {
			t.Errorf("podmantest: cleanup: %v", err)
		}
	})
	args := []string{"run", "-d", "--name", c.Name, "--network", "none", "--log-driver", "k8s-file",
		"--label", dockertest.LabelTest + "=1", "--label", LabelRun + "=" + s.runID}
	if o.TTY {
		args = append(args, "-t")
	}
	args = append(append(args, image), o.Args...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := s.Podman(ctx, args...)
	if err != nil {
		t.Fatalf("podmantest: %v", err)
	}
	c.ID = strings.TrimSpace(string(out))
	return c
}

func readTail(path string) string {
	b, _ := os.ReadFile(path)
	return tail(b)
}

// tail is the end of a command's output, enough to tell why it failed.
func tail(b []byte) string {
	const keep = 4000
	b = bytes.TrimSpace(b)
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return string(b)
}
