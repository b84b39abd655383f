package receiver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Measurements run the receiver in a child process of the test binary, so
// that its goroutines and memory are its own: the child runs one test
// function (which returns at once unless its environment says it is the
// child), prints "FIGURES <json>" on stdout, and waits for SIGTERM.

// childFigures runs test in a child process with env and decodes the
// figures it prints into v; then it stops the child (SIGTERM) and waits.
func childFigures(ctx context.Context, t *testing.T, test string, env []string, v any) {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if b, ok := strings.CutPrefix(sc.Text(), "FIGURES "); ok {
			found = json.Unmarshal([]byte(b), v) == nil
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil || !found {
		t.Fatalf("%s in a child process: %v, figures found %v\n%s", test, err, found, stderr.String())
	}
}

// printFigures is the child's side of childFigures.
func printFigures(v any) {
	b, _ := json.Marshal(v)
	fmt.Printf("FIGURES %s\n", b)
}

// procStatusKiB reads a kB figure of /proc/self/status (VmRSS:, VmHWM:).
func procStatusKiB(t *testing.T, key string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s %q: %v", key, v, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", key)
	return 0
}
