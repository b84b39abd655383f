package dockertest

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// addLines feeds docker logs output of one stream to the checker.
func addLines(c *seqcheck.Checker, key, stream string, out []byte) {
	s := strings.TrimSuffix(string(out), "\n")
	if s == "" {
		return
	}
	for _, l := range strings.Split(s, "\n") {
		c.Add(key, stream, l)
	}
}

func TestRunLoggenBothStreams(t *testing.T) {
	e := Require(t)
	ctx := testContext(t)
	c := e.Run(t, RunOptions{Name: "both", Args: []string{"-n", "5", "-streams", "both", "-then", "exit"}})
	if code, err := c.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("Wait = %d, %v", code, err)
	}
	stdout, stderr, err := c.Logs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var chk seqcheck.Checker
	chk.Expect(c.Name, "stdout", 5)
	chk.Expect(c.Name, "stderr", 5)
	addLines(&chk, c.Name, "stdout", stdout)
	addLines(&chk, c.Name, "stderr", stderr)
	r := chk.Report()
	if err := r.ErrInOrder(); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	// -src defaults to the hostname, the short container ID.
	if s, _ := r.Stream(c.Name, "stdout"); !strings.HasPrefix(c.ID, s.Src) || len(s.Src) != 12 {
		t.Errorf("src %q, container %s", s.Src, c.ID)
	}
	t.Logf("first line: %s", strings.SplitN(string(stdout), "\n", 2)[0])

	out, err := e.Docker(ctx, "inspect", "--format",
		`{{index .Config.Labels "`+LabelTest+`"}} {{index .Config.Labels "`+LabelRun+`"}} {{.HostConfig.LogConfig.Type}}`, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), "1 "+e.RunID()+" json-file"; got != want {
		t.Errorf("inspect = %q, want %q", got, want)
	}
}

func TestFollowThenStop(t *testing.T) {
	e := Require(t)
	ctx := testContext(t)
	c := e.Run(t, RunOptions{Args: []string{"-n", "3", "-streams", "both", "-sizes", "16385,10", "-utf8", "-empty-every", "2", "-then", "sleep", "-exit-code", "7"},
		Labels: map[string]string{"extra": "x"}, LogOpts: map[string]string{"max-size": "100k", "max-file": "2"}})
	var chk seqcheck.Checker
	for _, s := range []string{"stdout", "stderr"} {
		chk.Expect(c.Name, s, 3)
		chk.ExpectEmpty(c.Name, s, 1)
	}
	followed := make(chan error, 1)
	go func() { followed <- c.Follow(ctx, func(stream, line string) { chk.Add(c.Name, stream, line) }) }()
	if err := chk.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// PID 1 handles SIGTERM: exit 0, well before docker stop's 10 s SIGKILL.
	if code, err := c.Wait(ctx); err != nil || code != 0 {
		t.Fatalf("Wait = %d, %v", code, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v", d)
	}
	if err := <-followed; err != nil { // the container stopped: follow ends
		t.Fatal(err)
	}
	if err := chk.Report().ErrInOrder(); err != nil {
		t.Fatal(err)
	}
	out, err := e.Docker(ctx, "inspect", "--format", `{{.Config.Labels.extra}} {{index .HostConfig.LogConfig.Config "max-size"}} {{index .HostConfig.LogConfig.Config "max-file"}}`, c.ID)
	if got := strings.TrimSpace(string(out)); err != nil || got != "x 100k 2" {
		t.Errorf("inspect = %q, %v", got, err)
	}
}

func TestExitCodeRestartAndRemove(t *testing.T) {
	e := Require(t)
	ctx := testContext(t)
	c := e.Run(t, RunOptions{Name: "exit", Args: []string{"-n", "1", "-exit-code", "3", "-src", "ex"}, TTY: true})
	if code, err := c.Wait(ctx); err != nil || code != 3 {
		t.Fatalf("Wait = %d, %v", code, err)
	}
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if code, err := c.Wait(ctx); err != nil || code != 3 {
		t.Fatalf("Wait after restart = %d, %v", code, err)
	}
	stdout, stderr, err := c.Logs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// TTY: one stream, CRLF line ends; the restart appended the same line.
	want := seqcheck.Format("ex", "stdout", 1, 64, false) + "\r\n"
	if string(stdout) != want+want || len(stderr) != 0 {
		t.Fatalf("logs %q %q, want %q twice", stdout, stderr, want)
	}
	if p, err := c.LogPath(ctx); err != nil || !strings.HasSuffix(p, c.ID+"-json.log") {
		t.Errorf("LogPath = %q, %v", p, err)
	}
	if err := c.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
}

func TestKill(t *testing.T) {
	e := Require(t)
	ctx := testContext(t)
	c := e.Run(t, RunOptions{Args: []string{"-n", "0", "-then", "sleep"}})
	if err := c.Kill(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if code, err := c.Wait(ctx); err != nil || code != 137 {
		t.Fatalf("Wait = %d, %v", code, err)
	}
}

func TestOwnerAlive(t *testing.T) {
	if !OwnerAlive(OwnerLabel()) {
		t.Error("own process not alive")
	}
	host, _ := os.Hostname()
	for _, owner := range []string{"", "garbage", host + "/1/999999999999", host + "/999999999/1"} {
		if OwnerAlive(owner) {
			t.Errorf("%q alive", owner)
		}
	}
	if !OwnerAlive("some-other-host/1/1") {
		t.Error("other host's container would be swept")
	}
}

// TestJSONFileSplitRune documents an engine property the receiver has to live
// with: json-file stores the halves of a rune that Docker's 16 KiB split cut
// as U+FFFD, so such lines come back corrupt whatever the reader does, while
// -utf8 lines (runes kept off the split) come back intact.
func TestJSONFileSplitRune(t *testing.T) {
	e := Require(t)
	ctx := testContext(t)
	var chk seqcheck.Checker
	for _, arg := range []string{"-split-runes", "-utf8"} {
		c := e.Run(t, RunOptions{Name: "rune", Args: []string{"-src", "r", "-n", "2", "-size", "20000", arg}})
		if code, err := c.Wait(ctx); err != nil || code != 0 {
			t.Fatalf("Wait = %d, %v", code, err)
		}
		stdout, _, err := c.Logs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		chk.Expect(arg, "stdout", 2)
		addLines(&chk, arg, "stdout", stdout)
		if n := strings.Count(string(stdout), "\ufffd"); (n > 0) != (arg == "-split-runes") {
			t.Errorf("%s: %d U+FFFD in docker logs", arg, n)
		}
	}
	r := chk.Report()
	if s, _ := r.Stream("-split-runes", "stdout"); s.Corrupt != 2 {
		t.Errorf("split runes: want 2 corrupt lines (json-file sanitizing), got %s", s)
	}
	if s, _ := r.Stream("-utf8", "stdout"); s.Unique != 2 || s.Corrupt != 0 {
		t.Errorf("utf8: %s", s)
	}
}

func TestSweep(t *testing.T) {
	e := Require(t)
	ctx := testContext(t)
	host, _ := os.Hostname()
	live := e.Run(t, RunOptions{Args: []string{"-n", "0", "-then", "sleep"}})
	// A leftover of a process that is gone, created by hand as Run labels
	// containers with this process as owner.
	name := "dlr-leftover-" + e.RunID()
	t.Cleanup(func() { _, _ = e.Docker(context.Background(), "rm", "-f", name) })
	if _, err := e.Docker(ctx, "run", "-d", "--name", name, "--label", LabelTest+"=1",
		"--label", LabelOwner+"="+host+"/999999999/1", e.Image(), "-n", "0", "-then", "sleep"); err != nil {
		t.Fatal(err)
	}
	if err := Sweep(); err != nil {
		t.Fatal(err)
	}
	out, err := e.Docker(ctx, "ps", "-a", "--filter", "label="+LabelTest, "--format", "{{.Names}}")
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Fields(string(out))
	if slices.Contains(names, name) || !slices.Contains(names, live.Name) {
		t.Fatalf("after Sweep: %q", names)
	}
}
