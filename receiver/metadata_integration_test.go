package receiver

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
)

// TestMetadataRealEngineResource runs a loggen container that looks like a
// Compose service and names itself with OTEL_SERVICE_NAME, and checks the
// resource of its records against what the engine itself reports.
func TestMetadataRealEngineResource(t *testing.T) {
	t.Parallel()
	e := dockertest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	docker := func(args ...string) string {
		out, err := e.Docker(ctx, args...)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	hostName := docker("info", "--format", "{{.Name}}")
	engineVersion := docker("version", "--format", "{{.Server.Version}}")

	cfg := testConfig(e.Endpoint())
	cfg.Include.Labels = []string{dockertest.LabelRun + "=" + e.RunID()}
	cfg.Include.Names = []string{"metadata-*"}
	cfg.Labels = LabelsConfig{Include: []string{"com.docker.compose.*"}, Exclude: []string{"*config-hash"}}
	cfg.ResourceAttributes.ContainerCommandArgs.Enabled = true
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, nil)

	c := e.Run(t, dockertest.RunOptions{
		Name: "metadata",
		Args: []string{"-n", "3", "-streams", "stdout", "-then", "sleep"},
		Labels: map[string]string{
			"com.docker.compose.project":     "shop",
			"com.docker.compose.service":     "web",
			"com.docker.compose.config-hash": "9f2c0d",
		},
		Env: []string{"OTEL_SERVICE_NAME=checkout", "OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=test"},
	})
	recs := sink.waitCount(t, c.ID, 3)
	res := recs[0].Resource
	t.Logf("resource: %v", res)

	want := map[string]any{
		"container.id":              c.ID,
		"container.name":            c.Name,
		"container.runtime.name":    "docker",
		"container.runtime.version": engineVersion,
		"host.name":                 hostName,
		"service.name":              "checkout",
		"service.namespace":         "shop",
		"container.label.com.docker.compose.project": "shop",
		"container.label.com.docker.compose.service": "web",
		// dockertest runs the image by its ID: no name, no tag.
		"container.image.id": e.Image(),
	}
	for k, v := range want {
		if fmt.Sprint(res[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, res[k], v)
		}
	}
	for _, k := range []string{"container.label.com.docker.compose.config-hash", "container.image.name", "container.image.tags", "deployment.environment.name", "host.id"} {
		if v, ok := res[k]; ok {
			t.Errorf("%s = %v, want it absent", k, v)
		}
	}
	args, _ := res["container.command_args"].([]any)
	if len(args) < 2 || args[0] != "/loggen" || args[1] != "-n" {
		t.Errorf("container.command_args = %v, want /loggen -n ...", res["container.command_args"])
	}
	for i, r := range recs {
		if fmt.Sprint(r.Resource) != fmt.Sprint(res) {
			t.Errorf("record %d has another resource: %v", i, r.Resource)
		}
	}
}
