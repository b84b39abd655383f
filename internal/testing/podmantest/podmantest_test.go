package podmantest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServiceRunsLoggen starts a service, runs a loggen container to its
// end and reads its log back with the CLI; after the cleanup nothing of the
// service is left.
func TestServiceRunsLoggen(t *testing.T) {
	var dir string
	t.Run("service", func(t *testing.T) {
		p := Require(t)
		dir = p.dir
		c := p.Run(t, RunOptions{Name: "smoke", Args: []string{"-n", "3", "-streams", "both"}})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := p.Podman(ctx, "wait", c.Name); err != nil {
			t.Fatal(err)
		}
		out, err := p.Podman(ctx, "logs", c.Name)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(out), "\n"); n != 3 {
			t.Errorf("podman logs printed %d stdout lines, want 3:\n%s", n, out)
		}
	})
	if dir == "" {
		return // skipped
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after the cleanup (err %v)", filepath.Base(dir), err)
	}
}
