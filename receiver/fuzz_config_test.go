package receiver

import (
	"bufio"
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
)

// FuzzConfig feeds arbitrary YAML to the receiver's configuration the way
// the collector does (YAML → confmap → unmarshal over the defaults →
// validate) and requires that nothing panics, that Validate and the
// factory agree (a configuration that validates creates a receiver), and
// that a valid configuration survives a marshal/unmarshal round trip.
//
// The seed corpus is every entry of testdata/config.yaml (added here) and
// testdata/fuzz/FuzzConfig (hand-written edge cases).
func FuzzConfig(f *testing.F) {
	for _, seed := range configSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, ok := unmarshalFuzzConfig(data)
		if !ok {
			return
		}
		own := cfg.Validate()
		err := confmap.Validate(cfg) // also validates nested settings (tls)
		if own != nil && err == nil {
			t.Fatalf("Config.Validate fails (%v) but confmap.Validate passes", own)
		}
		if err != nil {
			return
		}
		// A valid configuration creates a receiver (which contacts nothing
		// until Start) and shuts it down.
		r, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
		if err != nil {
			t.Fatalf("valid configuration, but CreateLogs failed: %v\n%s", err, data)
		}
		if err := r.Shutdown(context.Background()); err != nil {
			t.Fatalf("shutdown without start: %v", err)
		}
		// Marshalled and read back, it is still valid.
		conf := confmap.New()
		if err := conf.Marshal(cfg); err != nil {
			return // not every value marshals (e.g. configoptional internals); unmarshalling is what the collector does
		}
		again := createDefaultConfig().(*Config)
		if err := conf.Unmarshal(again); err != nil {
			t.Fatalf("a valid configuration does not read back after marshalling: %v\n%v", err, conf.ToStringMap())
		}
		if err := confmap.Validate(again); err != nil {
			t.Fatalf("a valid configuration is invalid after a round trip: %v\n%v", err, conf.ToStringMap())
		}
	})
}

// unmarshalFuzzConfig reads data as the receiver's YAML configuration over
// the defaults; false when it is not YAML or does not unmarshal.
func unmarshalFuzzConfig(data []byte) (*Config, bool) {
	ret, err := confmap.NewRetrievedFromYAML(data)
	if err != nil {
		return nil, false
	}
	conf, err := ret.AsConf()
	if err != nil {
		return nil, false
	}
	cfg := createDefaultConfig().(*Config)
	if err := conf.Unmarshal(cfg); err != nil {
		return nil, false
	}
	return cfg, true
}

// configSeeds returns the entries of testdata/config.yaml, each dedented
// to the receiver's own YAML, in a fixed order.
func configSeeds(f *testing.F) [][]byte {
	f.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	entries := splitConfigEntries(b)
	if len(entries) < 10 {
		f.Fatalf("only %d entries in testdata/config.yaml", len(entries))
	}
	var seeds [][]byte
	for _, name := range slices.Sorted(maps.Keys(entries)) {
		seeds = append(seeds, entries[name])
	}
	return seeds
}

// TestFuzzConfigSeedsMatchConfigTest checks the seeds taken from
// testdata/config.yaml read as config_test.go reads them: the valid
// entries validate, the others fail to unmarshal or to validate.
func TestFuzzConfigSeedsMatchConfigTest(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	valid := map[string]bool{"": true, "all": true, "rotation_off": true}
	n := 0
	for name, body := range splitConfigEntries(b) {
		n++
		cfg, ok := unmarshalFuzzConfig(body)
		good := ok && confmap.Validate(cfg) == nil
		if good != valid[name] {
			t.Errorf("entry %q: valid=%v, want %v\n%s", name, good, valid[name], body)
		}
	}
	if n < 10 {
		t.Fatalf("only %d entries", n)
	}
}

// splitConfigEntries maps each entry name of config.yaml ("" for the
// unnamed one) to its dedented YAML.
func splitConfigEntries(b []byte) map[string][]byte {
	out := map[string][]byte{}
	name := ""
	var cur *bytes.Buffer
	flush := func() {
		if cur != nil {
			out[name] = cur.Bytes()
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "dockerlogsrotating"):
			flush()
			id := strings.TrimSuffix(strings.TrimSpace(l), ":")
			_, name, _ = strings.Cut(id, "/")
			cur = &bytes.Buffer{}
		case cur != nil && (strings.HasPrefix(l, "  ") || strings.TrimSpace(l) == ""):
			cur.WriteString(strings.TrimPrefix(l, "  "))
			cur.WriteByte('\n')
		}
	}
	flush()
	return out
}
