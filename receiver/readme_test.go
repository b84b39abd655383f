package receiver

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.yaml.in/yaml/v3"
)

// readmeYAML returns the README's yaml blocks.
func readmeYAML(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	var blocks []string
	for rest := string(raw); ; {
		_, after, ok := strings.Cut(rest, "```yaml\n")
		if !ok {
			return blocks
		}
		block, next, ok := strings.Cut(after, "```\n")
		require.True(t, ok, "README.md: a yaml block is not closed")
		blocks, rest = append(blocks, block), next
	}
}

// TestReadmeReceiverExamples: every README example that configures this
// receiver loads over the defaults and validates, as the collector would
// take it; and the Compose example's multiline labels are valid.
func TestReadmeReceiverExamples(t *testing.T) {
	configs, labelSets := 0, 0
	for _, block := range readmeYAML(t) {
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
				require.NoError(t, confmap.NewFromStringMap(m).Unmarshal(cfg), "README example:\n%s", block)
				require.NoError(t, confmap.Validate(cfg), "README example:\n%s", block)
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
				require.NoError(t, err, "README Compose example, service %s", name)
				labelSets++
			}
		}
	}
	// The configuration table's example, multiline, lifecycle events and
	// the recipes' receivers; the Compose example's three services.
	if configs < 4 || labelSets != 3 {
		t.Fatalf("checked %d receiver configurations and %d label sets in README.md: the examples moved", configs, labelSets)
	}
	t.Logf("%d receiver configurations, %d label sets", configs, labelSets)
}
