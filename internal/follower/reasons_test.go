package follower

import (
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestReasonsAreTheMetadataEnums: the values the follower records are
// exactly those metadata.yaml declares for the reason and error.type
// attributes.
func TestReasonsAreTheMetadataEnums(t *testing.T) {
	raw, err := os.ReadFile("../../metadata.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var md struct {
		Attributes map[string]struct {
			Enum []string `yaml:"enum"`
		} `yaml:"attributes"`
	}
	if err := yaml.Unmarshal(raw, &md); err != nil {
		t.Fatal(err)
	}
	check := func(attr string, got []string) {
		t.Helper()
		want := md.Attributes[attr].Enum
		slices.Sort(got)
		slices.Sort(want)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("%s: the follower knows %q, metadata.yaml declares %q", attr, got, want)
		}
	}
	var reasons, types []string
	for _, r := range endReasons {
		reasons = append(reasons, string(r))
	}
	for _, e := range errorTypes {
		types = append(types, string(e))
	}
	check("reason", reasons)
	check("error.type", types)
}
