package receiver

// Container lifecycle events on the real Docker Engine: a container that
// exits with code 3, docker restart while no collector runs (resumed from
// the saved position), health checks that pass and fail, and docker kill.
// OOM is not provoked here (a memory limit small enough to trigger it
// reliably is host-dependent); its record is covered against the fake
// daemon (internal/lifecycle).

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"go.opentelemetry.io/collector/component"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/checkpoint"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/storetest"
)

func TestIntegrationLifecycleEvents(t *testing.T) {
	e := dockertest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	caseKey, caseValue := "dockerlogsrotating.test.case", "lifecycle-events-"+e.RunID()
	labels := map[string]string{caseKey: caseValue}
	dir := t.TempDir()
	host := rstHost(dir)
	cfg := testConfig(e.Endpoint())
	cfg.Include.Labels = []string{caseKey + "=" + caseValue}
	cfg.LifecycleEvents.Enabled = true
	cfg.Storage = &rstStorageID

	first := &fakeSink{}
	_, r1 := rstStart(t, cfg, first, host)
	lcWaitPosition(t, dir) // from here on every event is delivered

	exits := e.Run(t, dockertest.RunOptions{Name: "lc-exits", Labels: labels, Args: []string{"-n", "1", "-exit-code", "3"}})
	restarted := e.Run(t, dockertest.RunOptions{Name: "lc-restarted", Labels: labels, Args: []string{"-n", "1", "-then", "sleep"}})
	if code, err := exits.Wait(ctx); err != nil || code != 3 {
		t.Fatalf("docker wait: %d, %v; want exit code 3", code, err)
	}
	recs := lcWaitFor(t, first, map[string][]string{
		exits.Name:     {"start", "die"},
		restarted.Name: {"start"},
	})
	die := lcRecord(t, recs, exits.Name, "die")
	if die.Attrs["process.exit.code"] != int64(3) || die.Body != "container "+exits.Name+" exited with code 3" {
		t.Errorf("die of %s: %q %v", exits.Name, die.Body, die.Attrs)
	}
	// The record of an event has the resource of the container's lines.
	line := first.waitBody(t, exits.ID, strings.TrimSuffix(lcOnlyLine(t, ctx, exits), "\n"))
	for _, r := range recs {
		if r.ID == exits.ID {
			equalRes(t, r.Body, r.Resource, line[0].Resource)
		}
	}
	must(t, r1.Shutdown(ctx))

	// While no collector runs: the next one resumes from the saved position.
	must(t, restarted.Restart(ctx))

	second := &fakeSink{}
	rstStart(t, cfg, second, host)
	lcWaitFor(t, second, map[string][]string{restarted.Name: {"kill", "die", "start", "restart"}})
	if kill := lcRecord(t, second.all(), restarted.Name, "kill"); kill.Attrs["docker.container.signal"] != int64(15) {
		t.Errorf("docker restart's kill: %v, want signal 15 (SIGTERM)", kill.Attrs)
	}

	healthy := lcRunWithHealthcheck(t, ctx, e, "lc-healthy", labels, 0)
	unhealthy := lcRunWithHealthcheck(t, ctx, e, "lc-unhealthy", labels, 1)
	killed := e.Run(t, dockertest.RunOptions{Name: "lc-killed", Labels: labels, Args: []string{"-n", "1", "-then", "sleep"}})
	lcWaitFor(t, second, map[string][]string{
		restarted.Name: {"kill", "die", "start", "restart"},
		healthy:        {"start", "health_status"},
		unhealthy:      {"start", "health_status"},
		killed.Name:    {"start"},
	})
	must(t, killed.Kill(ctx, ""))
	recs = lcWaitFor(t, second, map[string][]string{
		restarted.Name: {"kill", "die", "start", "restart"},
		healthy:        {"start", "health_status"},
		unhealthy:      {"start", "health_status"},
		killed.Name:    {"start", "kill", "die"},
	})
	for name, want := range map[string]string{healthy: "healthy", unhealthy: "unhealthy"} {
		if r := lcRecord(t, recs, name, "health_status"); r.Attrs["docker.container.health.status"] != want || r.Body != "container "+name+" is "+want {
			t.Errorf("health of %s: %q %v, want %s", name, r.Body, r.Attrs, want)
		}
	}
	if r := lcRecord(t, recs, killed.Name, "kill"); r.Attrs["docker.container.signal"] != int64(9) || !strings.HasSuffix(r.Body, "signal 9 (SIGKILL)") {
		t.Errorf("kill of %s: %q %v", killed.Name, r.Body, r.Attrs)
	}
	if r := lcRecord(t, recs, killed.Name, "die"); r.Attrs["process.exit.code"] != int64(137) {
		t.Errorf("die of %s: %v, want exit code 137", killed.Name, r.Attrs)
	}
	t.Logf("lifecycle records: first collector %d, second %d (events of %d containers, exactly once across the restart)",
		len(lcEvents(first.all())), len(lcEvents(second.all())), 6)
}

// lcWaitPosition waits until the lifecycle watcher saved its first
// position (the daemon's clock when it started): no event announces it.
func lcWaitPosition(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	cl, err := storetest.NewFileExtension(dir).GetClient(ctx, component.KindReceiver, rstReceiverID, "")
	must(t, err)
	st, err := checkpoint.Open(ctx, cl, time.Hour)
	must(t, err)
	defer st.Close(ctx)
	eventually(t, "the lifecycle watcher saved its first position", func() bool {
		_, ok, err := st.LoadLifecycle(ctx)
		return ok && err == nil
	})
}

// lcWaitFor waits until every container named in want has at least as many
// lifecycle records as want lists, then requires each container's records
// to be exactly want's actions in order, and no other container's.
func lcWaitFor(t *testing.T, sink *fakeSink, want map[string][]string) []fakeRecord {
	t.Helper()
	byName := func(recs []fakeRecord) map[string][]string {
		out := map[string][]string{}
		for _, r := range recs {
			if name, ok := r.Attrs["event.name"].(string); ok {
				out[r.Container] = append(out[r.Container], strings.TrimPrefix(name, "docker.container."))
			}
		}
		return out
	}
	recs := sink.waitUntil(t, fmt.Sprintf("lifecycle records %v", want), func(recs []fakeRecord) bool {
		got := byName(recs)
		for name, actions := range want {
			if len(got[name]) < len(actions) {
				return false
			}
		}
		return true
	})
	got := byName(recs)
	for name, actions := range want {
		if !slices.Equal(got[name], actions) {
			t.Errorf("lifecycle records of %s: %v, want %v", name, got[name], actions)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("lifecycle records of a container the test did not expect: %s %v", name, got[name])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return recs
}

// lcRecord returns the record of action of container name.
func lcRecord(t *testing.T, recs []fakeRecord, name, action string) fakeRecord {
	t.Helper()
	for _, r := range recs {
		if r.Container == name && r.Attrs["event.name"] == "docker.container."+action {
			return r
		}
	}
	t.Fatalf("no %s record of %s", action, name)
	return fakeRecord{}
}

// lcOnlyLine returns the one line a loggen container wrote on stdout.
func lcOnlyLine(t *testing.T, ctx context.Context, c *dockertest.Container) string {
	t.Helper()
	out, _, err := c.Logs(ctx)
	must(t, err)
	return string(out)
}

// lcRunWithHealthcheck runs a sleeping loggen container whose health check
// is loggen itself, exiting with code: 0 makes it healthy, anything else
// unhealthy after one failed probe. The docker CLI can only give a shell
// command as health check, and the image has no shell, so the container is
// created through the API with the exec form. It carries the test labels
// and is removed when the test ends; it returns the container's name.
func lcRunWithHealthcheck(t *testing.T, ctx context.Context, e *dockertest.Engine, prefix string, labels map[string]string, code int) string {
	t.Helper()
	cli, err := docker.NewClient(docker.Config{Endpoint: e.Endpoint()})
	must(t, err)
	defer cli.Close()
	name := fmt.Sprintf("%s-%s-%d", prefix, e.RunID(), time.Now().UnixNano())
	all := map[string]string{dockertest.LabelTest: "1", dockertest.LabelRun: e.RunID(), dockertest.LabelOwner: dockertest.OwnerLabel()}
	for k, v := range labels {
		all[k] = v
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := e.Docker(cctx, "rm", "-f", "-v", name); err != nil && !strings.Contains(err.Error(), "No such container") {
			t.Errorf("remove %s: %v", name, err)
		}
	})
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:  e.Image(),
			Cmd:    []string{"-n", "1", "-then", "sleep"},
			Labels: all,
			Healthcheck: &container.HealthConfig{
				Test:     []string{"CMD", "/loggen", "-n", "0", "-exit-code", fmt.Sprint(code)},
				Interval: time.Second, Timeout: 10 * time.Second, Retries: 1,
			},
		},
	})
	must(t, err)
	_, err = cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{})
	must(t, err)
	return name
}
