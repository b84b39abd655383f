package receiver

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.yaml.in/yaml/v3"
)

// docYAML returns the yaml blocks of a page of the documentation, a path
// from the repository's root.
func docYAML(t *testing.T, page string) []string {
	t.Helper()
	raw, err := os.ReadFile("../" + page)
	require.NoError(t, err)
	var blocks []string
	for rest := string(raw); ; {
		_, after, ok := strings.Cut(rest, "```yaml\n")
		if !ok {
			return blocks
		}
		block, next, ok := strings.Cut(after, "```\n")
		require.True(t, ok, "%s: a yaml block is not closed", page)
		blocks, rest = append(blocks, block), next
	}
}

// TestReadmeReceiverExamples: every example of the README and of the docs
// pages that configures this receiver loads over the defaults and
// validates, as the collector would take it; and the Compose example's
// multiline labels are valid.
func TestReadmeReceiverExamples(t *testing.T) {
	// The examples each page holds at least: the README's configuration
	// table, multiline and lifecycle events examples; the recipes'
	// receivers; the Compose example's three services.
	pages := []struct {
		page               string
		configs, labelSets int
	}{
		{"README.md", 3, 0},
		{"docs/recipes.md", 3, 0},
		{"docs/multiline.md", 0, 3},
	}
	for _, p := range pages {
		configs, labelSets := 0, 0
		for _, block := range docYAML(t, p.page) {
			var doc map[string]any
			if yaml.Unmarshal([]byte(block), &doc) != nil {
				continue // a fragment, shown with alternatives
			}
			if receivers, ok := doc["receivers"].(map[string]any); ok {
				for id, sub := range receivers {
					if id != "dockerlogsrotating" && !strings.HasPrefix(id, "dockerlogsrotating/") {
						continue
					}
					m, _ := sub.(map[string]any)
					cfg := NewFactory().CreateDefaultConfig().(*Config)
					require.NoError(t, confmap.NewFromStringMap(m).Unmarshal(cfg), "%s example:\n%s", p.page, block)
					require.NoError(t, confmap.Validate(cfg), "%s example:\n%s", p.page, block)
					configs++
				}
			}
			services, _ := doc["services"].(map[string]any)
			for name, s := range services {
				svc, _ := s.(map[string]any)
				labels := map[string]string{}
				l, _ := svc["labels"].(map[string]any)
				for k, v := range l {
					if s, ok := v.(string); ok {
						labels[k] = s
					}
				}
				if _, set, err := fromLabels(labels, createDefaultConfig().(*Config).Multiline.Config); set {
					require.NoError(t, err, "%s Compose example, service %s", p.page, name)
					labelSets++
				}
			}
		}
		if configs < p.configs || labelSets != p.labelSets {
			t.Errorf("checked %d receiver configurations and %d label sets in %s, want at least %d and exactly %d: the examples moved",
				configs, labelSets, p.page, p.configs, p.labelSets)
		}
		t.Logf("%s: %d receiver configurations, %d label sets", p.page, configs, labelSets)
	}
}
