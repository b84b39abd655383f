package receiver

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// metaRun starts a receiver on d and returns the resource of the first
// record of each container, by container ID.
func metaRun(t *testing.T, d *fakedocker.Daemon, cfg *Config, ids ...string) map[string]map[string]any {
	t.Helper()
	for _, id := range ids {
		d.WriteLines(id, fakedocker.Stdout, "hello")
	}
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, nil)
	out := map[string]map[string]any{}
	for _, id := range ids {
		out[id] = sink.waitCount(t, id, 1)[0].Resource
	}
	return out
}

// without returns res without the given keys (to compare the rest exactly).
func without(res map[string]any, keys ...string) map[string]any {
	out := maps.Clone(res)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

func equalRes(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: resource\n got  %v\n want %v", what, got, want)
	}
}

// TestFakeMetadataDefaultResource checks every default attribute, for each
// form of image reference Docker accepts.
func TestFakeMetadataDefaultResource(t *testing.T) {
	d := fakedocker.New(t, fakedocker.WithEngineVersion("27.3.1"),
		fakedocker.WithInfo(fakedocker.Info{Name: "docker-host-1", ID: "0b7f0a2c-1111-4222-8333-444455556666"}))
	cases := []struct {
		image, name string
		tags        []any
		digests     []any
	}{
		{"nginx", "nginx", []any{"latest"}, nil},
		{"nginx:1.27", "nginx", []any{"1.27"}, nil},
		{"registry.local:5000/team/app:v2", "registry.local:5000/team/app", []any{"v2"}, nil},
		{"registry.local:5000/team/app@" + testDigest, "registry.local:5000/team/app", nil, []any{"registry.local:5000/team/app@" + testDigest}},
		{"nginx:1.27@" + testDigest, "nginx", []any{"1.27"}, []any{"nginx@" + testDigest}},
		{testDigest, "", nil, nil}, // docker run <image ID>: no name, no tag
	}
	for i, tc := range cases {
		t.Run(tc.image, func(t *testing.T) {
			name := "img-" + strconv.Itoa(i)
			id := running(d, fakedocker.Container{Name: name, Image: tc.image, Cmd: []string{"/app", "--port=80"}})
			res := metaRun(t, d, fakeCfg(d), id)[id]
			imageID, _ := res["container.image.id"].(string)
			if !strings.HasPrefix(imageID, "sha256:") {
				t.Errorf("container.image.id %q", imageID)
			}
			want := map[string]any{
				"container.id": id, "container.name": name,
				"container.runtime.name": "docker", "container.runtime.version": "27.3.1",
				"host.name": "docker-host-1", "service.name": name,
			}
			if tc.name != "" {
				want["container.image.name"] = tc.name
			}
			if tc.tags != nil {
				want["container.image.tags"] = tc.tags
			}
			if tc.digests != nil {
				want["container.image.repo_digests"] = tc.digests
			}
			equalRes(t, tc.image, without(res, "container.image.id"), want)
		})
	}
}

// TestFakeMetadataServiceNameChain runs one container per source of the
// service identity, each also carrying every lower-ranked source.
func TestFakeMetadataServiceNameChain(t *testing.T) {
	d := fakedocker.New(t)
	compose := map[string]string{"com.docker.compose.service": "web", "com.docker.compose.project": "shop"}
	swarm := map[string]string{"com.docker.swarm.service.name": "stack_api", "com.docker.stack.namespace": "stack"}
	all := maps.Clone(compose)
	maps.Copy(all, swarm)
	type wantID struct{ name, namespace string }
	cases := []struct {
		c    fakedocker.Container
		want wantID
	}{
		{fakedocker.Container{Name: "by-env", Labels: all, Env: []string{
			"OTEL_SERVICE_NAME=checkout", "OTEL_RESOURCE_ATTRIBUTES=service.name=cart,service.namespace=payments",
		}}, wantID{"checkout", "payments"}},
		{fakedocker.Container{Name: "by-resattrs", Labels: all, Env: []string{
			"OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=prod,service.name=cart",
		}}, wantID{"cart", "shop"}},
		{fakedocker.Container{Name: "by-compose", Labels: all}, wantID{"web", "shop"}},
		{fakedocker.Container{Name: "by-swarm", Labels: swarm}, wantID{"stack_api", "stack"}},
		{fakedocker.Container{Name: "by-name"}, wantID{"by-name", ""}},
	}
	var ids []string
	for _, tc := range cases {
		ids = append(ids, running(d, tc.c))
	}
	got := metaRun(t, d, fakeCfg(d), ids...)
	for i, tc := range cases {
		res := got[ids[i]]
		name, _ := res["service.name"].(string)
		ns, hasNS := res["service.namespace"].(string)
		if name != tc.want.name || ns != tc.want.namespace || hasNS != (tc.want.namespace != "") {
			t.Errorf("%s: service.name %q, service.namespace %q (set: %v); want %q, %q",
				tc.c.Name, name, ns, hasNS, tc.want.name, tc.want.namespace)
		}
		for k := range res {
			if strings.HasPrefix(k, "container.label.") || k == "deployment.environment.name" {
				t.Errorf("%s: %s copied without being asked for", tc.c.Name, k)
			}
		}
	}
}

func TestFakeMetadataServiceIdentityCanBeTurnedOff(t *testing.T) {
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "quiet", Env: []string{"OTEL_SERVICE_NAME=checkout"},
		Labels: map[string]string{"com.docker.compose.project": "shop"}})
	cfg := fakeCfg(d)
	cfg.ResourceAttributes.ServiceName.Enabled = false
	cfg.ResourceAttributes.ServiceNamespace.Enabled = false
	res := metaRun(t, d, cfg, id)[id]
	for _, k := range []string{"service.name", "service.namespace"} {
		if v, ok := res[k]; ok {
			t.Errorf("%s = %v although disabled", k, v)
		}
	}
}

func TestFakeMetadataLabelPatterns(t *testing.T) {
	d := fakedocker.New(t)
	labels := map[string]string{
		"com.docker.compose.project":     "shop",
		"com.docker.compose.service":     "web",
		"com.docker.compose.config-hash": "9f2c",
		"com.example.team":               "payments",
		"org.opencontainers.image.title": "web",
	}
	id := running(d, fakedocker.Container{Name: "labelled", Labels: labels})
	cfg := fakeCfg(d)
	cfg.Labels = LabelsConfig{
		Include: []string{"com.docker.compose.*", "/^com\\.example\\./"},
		Exclude: []string{"*config-hash"},
	}
	cfg.LabelsToAttributes = map[string]string{"com.example.team": "team"} // the rename wins
	res := metaRun(t, d, cfg, id)[id]
	var got []string
	for k := range res {
		if strings.HasPrefix(k, "container.label.") {
			got = append(got, k+"="+fmt.Sprint(res[k]))
		}
	}
	slices.Sort(got)
	want := []string{"container.label.com.docker.compose.project=shop", "container.label.com.docker.compose.service=web"}
	if !slices.Equal(got, want) {
		t.Errorf("copied labels %q, want %q", got, want)
	}
	if res["team"] != "payments" {
		t.Errorf("renamed label: team = %v, want payments", res["team"])
	}
}

func TestFakeMetadataOptInAttributes(t *testing.T) {
	d := fakedocker.New(t, fakedocker.WithInfo(fakedocker.Info{Name: "h", ID: "daemon-id-1"}))
	id := running(d, fakedocker.Container{Name: "cmd", Entrypoint: []string{"/entry.sh"}, Cmd: []string{"serve", "--port", "80"}})
	cfg := fakeCfg(d)
	ra := &cfg.ResourceAttributes
	ra.ContainerCommand.Enabled = true
	ra.ContainerCommandArgs.Enabled = true
	ra.ContainerCommandLine.Enabled = true
	ra.HostID.Enabled = true
	res := metaRun(t, d, cfg, id)[id]
	want := map[string]any{
		"container.command":      "/entry.sh",
		"container.command_args": []any{"/entry.sh", "serve", "--port", "80"},
		"container.command_line": "/entry.sh serve --port 80",
		"host.id":                "daemon-id-1",
		"host.name":              "h",
	}
	for k, v := range want {
		if fmt.Sprint(res[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, res[k], v)
		}
	}
}

// TestFakeMetadataNoInfoWhenHostAttributesAreOff: with host.name and
// host.id off the receiver never calls /info.
func TestFakeMetadataNoInfoWhenHostAttributesAreOff(t *testing.T) {
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{Name: "nohost"})
	cfg := fakeCfg(d)
	cfg.ResourceAttributes.HostName.Enabled = false
	res := metaRun(t, d, cfg, id)[id]
	if _, ok := res["host.name"]; ok {
		t.Errorf("host.name set although disabled: %v", res)
	}
	if n := len(d.RequestsTo("/info")); n != 0 {
		t.Errorf("%d /info requests, want none", n)
	}
}

// TestFakeMetadataInfoFailureKeepsLogsFlowing: a daemon (or proxy) that
// refuses /info costs host.name, nothing else.
func TestFakeMetadataInfoFailureKeepsLogsFlowing(t *testing.T) {
	d := fakedocker.New(t)
	d.SetFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
		if req.Path == "/info" {
			w.Status(403, "info is not on the allowlist")
			return true
		}
		return false
	})
	id := running(d, fakedocker.Container{Name: "noinfo", Image: "app:1"})
	res := metaRun(t, d, fakeCfg(d), id)[id]
	if _, ok := res["host.name"]; ok {
		t.Errorf("host.name set although /info failed: %v", res)
	}
	if res["container.runtime.version"] != d.EngineVersion() || res["container.image.name"] != "app" {
		t.Errorf("resource %v", res)
	}
	if n := len(d.RequestsTo("/info")); n != 1 {
		t.Errorf("%d /info requests, want 1", n)
	}
}

func TestFakeLabelsAndEnvAreCopiedToTheResource(t *testing.T) {
	d := fakedocker.New(t)
	id := running(d, fakedocker.Container{
		Name: "mapped", Image: "map:1",
		Labels: map[string]string{"com.example.service": "checkout", "unmapped": "x"},
		Env:    []string{"DEPLOY_ENV=prod", "EMPTY=", "PATH=/bin"},
	})
	ts := d.WriteLines(id, fakedocker.Stdout, "hello")[0]
	cfg := fakeCfg(d)
	cfg.APIVersion = "1.41" // multiplexed body announced as raw-stream
	cfg.LabelsToAttributes = map[string]string{"com.example.service": "service.name", "missing": "never.set"}
	cfg.EnvToAttributes = map[string]string{"DEPLOY_ENV": "deployment.environment", "EMPTY": "empty.env"}
	cfg.ResourceAttributes.ContainerHostname.Enabled = true
	sink := &fakeSink{}
	startReceiver(t, cfg, sink, nil)
	got := sink.waitCount(t, id, 1)
	checkRecords(t, got, []want{{stream: "stdout", body: "hello", ts: ts}})
	wantRes := fmt.Sprint(map[string]any{
		"container.id": id, "container.name": "mapped", "container.image.name": "map",
		"container.image.tags": []any{"1"}, "container.image.id": got[0].Resource["container.image.id"],
		"container.runtime.name": "docker", "container.runtime.version": d.EngineVersion(),
		"container.hostname": id[:12], "host.name": fakedocker.DefaultInfo.Name,
		"service.name": "checkout", "deployment.environment": "prod", "empty.env": "",
	})
	if res := fmt.Sprint(got[0].Resource); res != wantRes {
		t.Errorf("resource %s, want %s", res, wantRes)
	}
	for _, r := range d.RequestsTo("/containers/" + id + "/logs") {
		if r.APIVersion != "1.41" {
			t.Errorf("/logs requested with API %q, want the pinned 1.41", r.APIVersion)
		}
	}
}
