package deploy_test

// The recipes of docs/recipes.md (the README points there), each a complete
// collector configuration in testdata/recipes/ at the repository root.
//
// TestRecipes runs each recipe with the built collector (the deploy image's,
// ./bin/otelcol-dockerlogs-deploy, built once and shared with the delivery
// test; see TestBuildManifestsAgree for why it stands for `make build`'s) on
// the real Docker Engine: loggen containers, labelled as the recipe needs,
// write and exit; then the collector reads them from the beginning and the
// records in each of its file exporters' output are compared with what
// each container wrote, exactly (body, stream, the resource attributes the
// recipe is about, which exporter got them). The recipe file is used as it
// is; a second --config merged over it only points the receivers at this
// test's containers (include.names, which a recipe does not set) and the
// file exporters into a temporary directory.
//
// TestDocsRecipesAreTheTestedFiles checks that docs/recipes.md shows each
// recipe file verbatim, TestBuildManifestsAgree that the deploy manifest
// carries every component of builder-config.yaml at the same version, and
// TestBenchManifestAgrees that the bench manifest is on builder-config.yaml's
// versions (all three also with -short).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
)

const (
	// recipeLines loggen writes per container.
	recipeLines = 20
	// recipeTimeout bounds one recipe's run, containers included.
	recipeTimeout = 2 * time.Minute
	// labelProject is the label Compose sets to the project's name.
	labelProject = "com.docker.compose.project"
)

// recipeContainer is a loggen container of a recipe's run.
type recipeContainer struct {
	labels map[string]string
	// exporter is the ID of the exporter its records must reach.
	exporter string
	// resource holds the values that the records' resource attributes
	// named in recipeCase.resourceKeys must have; a key that is missing
	// here must be absent.
	resource map[string]string
}

type recipeCase struct {
	file         string // in testdata/recipes/
	resourceKeys []string
	containers   []recipeContainer
}

func TestRecipes(t *testing.T) {
	e := dockertest.Require(t) // skips under -short
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := buildDeployCollector(t, root)

	cases := []recipeCase{
		{
			file:         "compose-project-route.yaml",
			resourceKeys: []string{"service.namespace"},
			containers: []recipeContainer{
				{labels: map[string]string{labelProject: "shop"}, exporter: "file/shop", resource: map[string]string{"service.namespace": "shop"}},
				{labels: map[string]string{labelProject: "billing"}, exporter: "file", resource: map[string]string{"service.namespace": "billing"}},
				{exporter: "file"},
			},
		},
		{
			file:         "resource-attributes.yaml",
			resourceKeys: []string{"service.namespace", "deployment.environment.name"},
			containers: []recipeContainer{
				{labels: map[string]string{labelProject: "shop"}, exporter: "file", resource: map[string]string{"service.namespace": "shop", "deployment.environment.name": "production"}},
				{exporter: "file", resource: map[string]string{"service.namespace": "standalone", "deployment.environment.name": "production"}},
			},
		},
	}
	for _, rc := range cases {
		t.Run(strings.TrimSuffix(rc.file, ".yaml"), func(t *testing.T) {
			runRecipe(t, e, bin, filepath.Join(root, "testdata", "recipes", rc.file), rc)
		})
	}
}

// recipeRecord is what the comparison looks at in one record.
type recipeRecord struct {
	exporter  string
	container string
	resource  map[string]string // the case's resourceKeys that are present
	iostream  string
	body      string
}

func (r recipeRecord) String() string {
	keys := make([]string, 0, len(r.resource))
	for k := range r.resource {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var res []string
	for _, k := range keys {
		res = append(res, k+"="+r.resource[k])
	}
	return fmt.Sprintf("%s: %s {%s} %s %q", r.exporter, r.container, strings.Join(res, " "), r.iostream, r.body)
}

func runRecipe(t *testing.T, e *dockertest.Engine, bin, recipe string, rc recipeCase) {
	ctx, cancel := context.WithTimeout(context.Background(), recipeTimeout)
	defer cancel()
	start := time.Now()
	id := randomID(t)
	prefix := "recipe-" + id

	// 1. The containers write and exit; what they wrote is the expectation.
	var want []recipeRecord
	for _, c := range rc.containers {
		labels := map[string]string{labelDeploy: id}
		for k, v := range c.labels {
			labels[k] = v
		}
		ct := e.Run(t, dockertest.RunOptions{
			Name:   prefix,
			Args:   []string{"-n", strconv.Itoa(recipeLines), "-size", "32", "-then", "exit"},
			Labels: labels,
		})
		if code, err := ct.Wait(ctx); err != nil || code != 0 {
			t.Fatalf("loggen %s: exit code %d, %v", ct.Name, code, err)
		}
		stdout, _, err := ct.Logs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(stdout), "\n"), "\n")
		if len(lines) != recipeLines {
			t.Fatalf("docker logs %s: %d lines, want %d", ct.Name, len(lines), recipeLines)
		}
		resource := c.resource
		if resource == nil {
			resource = map[string]string{}
		}
		for _, l := range lines {
			want = append(want, recipeRecord{exporter: c.exporter, container: ct.Name, resource: resource, iostream: "stdout", body: l})
		}
	}

	// 2. The recipe, with this test's override merged over it.
	dir := t.TempDir()
	outputs := recipeOverride(t, e, recipe, prefix, dir)
	for _, c := range rc.containers {
		if _, ok := outputs[c.exporter]; !ok {
			t.Fatalf("%s has no file exporter %q", filepath.Base(recipe), c.exporter)
		}
	}
	col := startCollector(t, bin, filepath.Join(dir, "collector.log"), nil,
		"--config", recipe, "--config", filepath.Join(dir, "override.yaml"))

	// 3. Until as many records arrived as were written, then once more
	// after a clean stop (the file exporter flushes on shutdown), so that
	// nothing written late escapes the comparison.
	var got []recipeRecord
	files := map[string]*otlpFile{}
	for exp, path := range outputs {
		files[exp] = &otlpFile{path: path}
	}
	poll := func() error {
		for exp, f := range files {
			reqs, err := f.poll()
			if err != nil {
				return err
			}
			got = append(got, recipeRecords(exp, reqs, rc.resourceKeys)...)
		}
		return nil
	}
	if err := waitFor(ctx, func() (bool, error) {
		err := poll()
		return len(got) >= len(want), err
	}); err != nil {
		t.Fatalf("waiting for %d records (%d so far): %v", len(want), len(got), err)
	}
	col.stop(t, syscall.SIGTERM)
	if err := poll(); err != nil {
		t.Fatal(err)
	}

	// 4. Exactly what was written, each record at its exporter. The order
	// of one container's records is kept; containers are compared by name.
	sortRecords := func(rs []recipeRecord) {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].container < rs[j].container })
	}
	sortRecords(want)
	sortRecords(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: records differ from what the containers wrote\n%s", filepath.Base(recipe), recordsDiff(got, want))
	}
	t.Logf("%s: %d records of %d containers compared in %v", filepath.Base(recipe), len(got), len(rc.containers), time.Since(start).Round(time.Millisecond))
}

// recipeOverride writes dir/override.yaml for recipe: every receiver of
// this repository reads this test's containers (names starting with
// prefix) from the beginning, every file exporter writes into dir, and the
// collector serves no metrics port. It returns the output path of each file
// exporter by ID.
func recipeOverride(t *testing.T, e *dockertest.Engine, recipe, prefix, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(recipe)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Receivers map[string]any `yaml:"receivers"`
		Exporters map[string]any `yaml:"exporters"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", recipe, err)
	}
	receivers, exporters := map[string]any{}, map[string]any{}
	for name := range cfg.Receivers {
		if typ, _, _ := strings.Cut(name, "/"); typ == "dockerlogsrotating" {
			receivers[name] = map[string]any{
				"endpoint": e.Endpoint(),
				"start_at": "beginning",
				"include":  map[string]any{"names": []string{prefix + "-*"}},
			}
		}
	}
	outputs := map[string]string{}
	for name := range cfg.Exporters {
		if typ, _, _ := strings.Cut(name, "/"); typ == "file" {
			outputs[name] = filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".json")
			exporters[name] = map[string]any{"path": outputs[name]}
		}
	}
	if len(receivers) == 0 || len(outputs) == 0 {
		t.Fatalf("%s: want a dockerlogsrotating receiver and a file exporter; has receivers %v, exporters %v", recipe, cfg.Receivers, cfg.Exporters)
	}
	writeJSON(t, filepath.Join(dir, "override.yaml"), map[string]any{ // JSON is YAML
		"receivers": receivers,
		"exporters": exporters,
		"service":   map[string]any{"telemetry": map[string]any{"metrics": map[string]any{"level": "none"}}},
	})
	return outputs
}

// recipeRecords flattens the requests one exporter wrote.
func recipeRecords(exporter string, reqs []otlpJSON, resourceKeys []string) []recipeRecord {
	var out []recipeRecord
	for _, req := range reqs {
		req.eachRecord(func(resource []kv, body anyValue, attrs []kv) {
			res := map[string]string{}
			for _, a := range resource {
				if slices.Contains(resourceKeys, a.Key) {
					res[a.Key] = a.Value.str()
				}
			}
			out = append(out, recipeRecord{exporter: exporter, container: attr(resource, "container.name"), resource: res,
				iostream: attr(attrs, "log.iostream"), body: body.str()})
		})
	}
	return out
}

// recordsDiff lists the records that only one side has, up to 20 of each.
func recordsDiff(got, want []recipeRecord) string {
	count := map[string]int{}
	for _, r := range want {
		count[r.String()]++
	}
	for _, r := range got {
		count[r.String()]--
	}
	var extra, missing []string
	for _, r := range got {
		if s := r.String(); count[s] < 0 && len(extra) < 20 {
			extra = append(extra, "  + "+s)
			count[s]++
		}
	}
	for _, r := range want {
		if s := r.String(); count[s] > 0 && len(missing) < 20 {
			missing = append(missing, "  - "+s)
			count[s]--
		}
	}
	if len(extra)+len(missing) == 0 {
		return fmt.Sprintf("the same %d records, in another order", len(got))
	}
	return fmt.Sprintf("got %d records, want %d; unexpected (+), missing (-):\n%s", len(got), len(want),
		strings.Join(append(extra, missing...), "\n"))
}

// TestDocsRecipesAreTheTestedFiles checks that docs/recipes.md shows every
// file of testdata/recipes/ verbatim, as a yaml block whose first line
// names the file, and no other recipe.
func TestDocsRecipesAreTheTestedFiles(t *testing.T) {
	const page = "docs/recipes.md"
	doc, err := os.ReadFile("../" + page)
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{} // file name -> block
	for rest := string(doc); ; {
		_, after, ok := strings.Cut(rest, "\n```yaml\n")
		if !ok {
			break
		}
		block, next, ok := strings.Cut(after, "\n```\n")
		if !ok {
			t.Fatalf("%s: a yaml block is not closed", page)
		}
		rest = next
		first, _, _ := strings.Cut(block, "\n")
		name, ok := strings.CutPrefix(first, "# testdata/recipes/")
		if !ok {
			continue // a fragment, not a recipe
		}
		if _, dup := shown[name]; dup {
			t.Errorf("%s shows %s twice", page, name)
		}
		shown[name] = block + "\n"
	}
	files, err := filepath.Glob("../testdata/recipes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recipes in testdata/recipes/")
	}
	for _, f := range files {
		name := filepath.Base(f)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		block, ok := shown[name]
		delete(shown, name)
		switch {
		case !ok:
			t.Errorf("%s does not show %s (a yaml block starting with the line \"# testdata/recipes/%s\")", page, name, name)
		case block != string(b):
			t.Errorf("%s shows %s otherwise than the file: copy the file into it", page, name)
		}
	}
	for name := range shown {
		t.Errorf("%s shows testdata/recipes/%s, which does not exist", page, name)
	}
}

// TestBuildManifestsAgree checks that deploy/builder-config.yaml has every
// component of builder-config.yaml at the same version, so that what the
// tests of this package run with the deploy collector also holds for the
// collector of `make build`.
func TestBuildManifestsAgree(t *testing.T) {
	type components []struct {
		GoMod string `yaml:"gomod"`
	}
	read := func(path string) map[string]bool {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Receivers  components `yaml:"receivers"`
			Processors components `yaml:"processors"`
			Exporters  components `yaml:"exporters"`
			Connectors components `yaml:"connectors"`
			Extensions components `yaml:"extensions"`
			Providers  components `yaml:"providers"`
		}
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		mods := map[string]bool{}
		for kind, list := range map[string]components{"receivers": m.Receivers, "processors": m.Processors,
			"exporters": m.Exporters, "connectors": m.Connectors, "extensions": m.Extensions, "providers": m.Providers} {
			for _, c := range list {
				mods[kind+": "+c.GoMod] = true
			}
		}
		return mods
	}
	root, deploy := read("../builder-config.yaml"), read("builder-config.yaml")
	if len(root) == 0 {
		t.Fatal("builder-config.yaml: no components")
	}
	var missing []string
	for m := range root {
		if !deploy[m] {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("deploy/builder-config.yaml lacks these components of builder-config.yaml (or has them at another version):\n  %s",
			strings.Join(missing, "\n  "))
	}
}

// TestBenchManifestAgrees checks scripts/bench/builder-config-bench.yaml,
// the filelog collector that `make bench` compares the receiver with,
// against builder-config.yaml: a module both carry has the same version in
// both, and every collector module of the bench manifest is on the release
// lines of the root manifest (core 0.x, core 1.x and contrib each have one
// version there; that is checked too). So the two collectors of a benchmark
// are built from the same collector release.
func TestBenchManifestAgrees(t *testing.T) {
	root := manifestModules(t, "../builder-config.yaml")
	bench := manifestModules(t, "../scripts/bench/builder-config-bench.yaml")
	if len(root) == 0 || len(bench) == 0 {
		t.Fatal("a manifest without components")
	}

	// The release lines, from the root manifest: one version each.
	versions := map[string]map[string][]string{} // line -> version -> modules
	for mod, v := range root {
		if line := releaseLine(mod, v); line != "" {
			if versions[line] == nil {
				versions[line] = map[string][]string{}
			}
			versions[line][v] = append(versions[line][v], mod)
		}
	}
	lines := map[string]string{} // line -> its version, where it has one
	for line, vs := range versions {
		if len(vs) == 1 {
			for v := range vs {
				lines[line] = v
			}
			continue
		}
		var desc []string
		for v, mods := range vs {
			sort.Strings(mods)
			desc = append(desc, v+": "+strings.Join(mods, ", "))
		}
		sort.Strings(desc)
		t.Errorf("builder-config.yaml: the %s modules are not at one version:\n  %s", line, strings.Join(desc, "\n  "))
	}

	var bad []string
	for mod, v := range bench {
		if rv, ok := root[mod]; ok && rv != v {
			bad = append(bad, fmt.Sprintf("%s %s (builder-config.yaml has %s)", mod, v, rv))
			continue
		}
		line := releaseLine(mod, v)
		if line == "" {
			continue
		}
		want, ok := lines[line]
		switch {
		case !ok && versions[line] != nil:
			// builder-config.yaml disagrees with itself: reported above.
		case !ok:
			bad = append(bad, fmt.Sprintf("%s %s (builder-config.yaml has no %s module to take the version from)", mod, v, line))
		case v != want:
			bad = append(bad, fmt.Sprintf("%s %s (the %s line is %s)", mod, v, line, want))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("scripts/bench/builder-config-bench.yaml is not on builder-config.yaml's versions:\n  %s",
			strings.Join(bad, "\n  "))
	}
}

// manifestModules reads an ocb manifest's components as module path ->
// version (components without a version, if any, map to "").
func manifestModules(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type components []struct {
		GoMod string `yaml:"gomod"`
	}
	var m struct {
		Receivers  components `yaml:"receivers"`
		Processors components `yaml:"processors"`
		Exporters  components `yaml:"exporters"`
		Connectors components `yaml:"connectors"`
		Extensions components `yaml:"extensions"`
		Providers  components `yaml:"providers"`
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	mods := map[string]string{}
	for _, list := range []components{m.Receivers, m.Processors, m.Exporters, m.Connectors, m.Extensions, m.Providers} {
		for _, c := range list {
			mod, v, _ := strings.Cut(strings.TrimSpace(c.GoMod), " ")
			mods[mod] = strings.TrimSpace(v)
		}
	}
	return mods
}

// releaseLine names the collector release line a module at version v
// belongs to: "core 0.x" and "core 1.x" (go.opentelemetry.io/collector,
// whose 0.x and 1.x modules are released together under two numbers) and
// "contrib"; "" for any other module (this repository's).
func releaseLine(mod, v string) string {
	switch {
	case strings.HasPrefix(mod, "go.opentelemetry.io/collector/"):
		major, _, _ := strings.Cut(v, ".")
		return "core " + strings.TrimPrefix(major, "v") + ".x"
	case strings.HasPrefix(mod, "github.com/open-telemetry/opentelemetry-collector-contrib/"):
		return "contrib"
	}
	return ""
}
