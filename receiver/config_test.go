package receiver

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/multiline"
)

// loadConfig reads the named receiver configuration of testdata/config.yaml
// over the defaults, as the collector does. It returns the unmarshal error,
// if any, and otherwise the configuration.
func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	id := component.NewID(metadata.Type)
	if name != "" {
		id = component.NewIDWithName(metadata.Type, name)
	}
	require.True(t, cm.IsSet(id.String()), "testdata/config.yaml has no %s", id)
	sub, err := cm.Sub(id.String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if err := sub.Unmarshal(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

func TestConfigDefaultIsValidAndMatchesFactory(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, createDefaultConfig(), cfg)

	assert.Equal(t, "unix:///var/run/docker.sock", cfg.Endpoint)
	assert.Equal(t, "", cfg.APIVersion)
	assert.False(t, cfg.TLS.HasValue())
	assert.Equal(t, 10*time.Second, cfg.Timeout)
	assert.Equal(t, StartAtEnd, cfg.StartAt)
	assert.Equal(t, 5*time.Minute, cfg.RotationInterval)
	assert.Equal(t, 50, cfg.MaxConcurrentStreams)
	assert.Equal(t, time.Minute, cfg.ResyncInterval)
	assert.True(t, cfg.ExcludeSelf)
	assert.Equal(t, ByteSize(1<<20), cfg.MaxLogSize)
	ra := cfg.ResourceAttributes
	assert.True(t, ra.ContainerID.Enabled)
	assert.True(t, ra.ContainerName.Enabled)
	assert.True(t, ra.ContainerImageName.Enabled)
	assert.True(t, ra.ContainerRuntimeName.Enabled)
	assert.True(t, ra.ContainerRuntimeVersion.Enabled)
	assert.True(t, ra.ContainerImageID.Enabled)
	assert.True(t, ra.ContainerImageTags.Enabled)
	assert.True(t, ra.ContainerImageRepoDigests.Enabled)
	assert.True(t, ra.HostName.Enabled)
	assert.True(t, ra.ServiceName.Enabled)
	assert.True(t, ra.ServiceNamespace.Enabled)
	assert.False(t, ra.HostID.Enabled)
	assert.False(t, ra.ContainerHostname.Enabled)
	assert.False(t, ra.ContainerCommand.Enabled)
	assert.False(t, ra.ContainerCommandArgs.Enabled)
	assert.False(t, ra.ContainerCommandLine.Enabled)
	assert.False(t, cfg.LifecycleEvents.Enabled, "lifecycle events are off by default")
	assert.Empty(t, cfg.Labels.Include, "no label is copied by default")
	assert.Empty(t, cfg.Labels.Exclude)
}

var storageID = component.MustNewIDWithName("file_storage", "positions")

func TestConfigAllKeysSetAreLoaded(t *testing.T) {
	cfg, err := loadConfig(t, "all")
	require.NoError(t, err)
	require.NoError(t, confmap.Validate(cfg))

	ra := cfg.ResourceAttributes
	assert.True(t, ra.ContainerHostname.Enabled)
	assert.False(t, ra.ContainerImageName.Enabled)
	assert.True(t, ra.ContainerID.Enabled)
	assert.True(t, ra.ContainerName.Enabled)
	assert.True(t, ra.ContainerRuntimeName.Enabled)
	assert.True(t, ra.ContainerImageID.Enabled)
	assert.True(t, ra.ContainerCommandLine.Enabled)
	assert.False(t, ra.HostName.Enabled)
	assert.True(t, ra.ServiceName.Enabled)
	assert.False(t, ra.ServiceNamespace.Enabled)

	got := *cfg
	got.ResourceAttributes = metadata.ResourceAttributesConfig{} // compared above (it holds unexported state)
	want := Config{
		Endpoint:   "tcp://docker.example:2376",
		APIVersion: "1.44",
		TLS: configoptional.Some(func() configtls.ClientConfig {
			c := configtls.NewDefaultClientConfig()
			c.CAFile = "/etc/docker/ca.pem"
			c.CertFile = "/etc/docker/cert.pem"
			c.KeyFile = "/etc/docker/key.pem"
			return c
		}()),
		Timeout:              3 * time.Second,
		StartAt:              StartAtBeginning,
		RotationInterval:     30 * time.Second,
		IdleTimeout:          2 * time.Minute,
		FirstByteTimeout:     10 * time.Minute,
		MaxConcurrentStreams: 7,
		ResyncInterval:       45 * time.Second,
		Storage:              &storageID,
		StorageRetention:     48 * time.Hour,
		LifecycleEvents:      LifecycleEventsConfig{Enabled: true},
		Include: MatchConfig{
			Names:  []string{"web-*", "/^api-[0-9]+$/"},
			Images: []string{"nginx:*"},
			Labels: []string{"env=prod", "team"},
		},
		Exclude: MatchConfig{
			Names:  []string{"web-debug"},
			Images: []string{"/busybox/"},
			Labels: []string{"logging=off"},
		},
		ExcludeSelf: false,
		MaxLogSize:  512 << 10,
		Multiline: MultilineConfig{
			Config: multiline.Config{LineStartPattern: `^\d{4}-\d{2}-\d{2} `, FlushTimeout: 250 * time.Millisecond, MaxLines: 200},
			Rules: []MultilineRule{
				{
					Match:  MatchConfig{Names: []string{"worker-*"}, Images: []string{"shop/*"}, Labels: []string{"lang=java"}},
					Config: multiline.Config{Mode: "auto", FlushTimeout: 2 * time.Second, MaxLines: 500},
				},
				{Match: MatchConfig{Labels: []string{"logging.multiline=end"}}, Config: multiline.Config{LineEndPattern: `;$`}},
				{Match: MatchConfig{Names: []string{"/^legacy-/"}}},
			},
		},
		Labels: LabelsConfig{
			Include: []string{"com.example.*", "/^team$/"},
			Exclude: []string{"*.secret"},
		},
		LabelsToAttributes: map[string]string{"com.example.service": "service.name"},
		EnvToAttributes:    map[string]string{"DEPLOY_ENV": "deployment.environment"},
	}
	assert.Equal(t, want, got)
}

func TestConfigZeroRotationAndStreamCapAreValid(t *testing.T) {
	cfg, err := loadConfig(t, "rotation_off")
	require.NoError(t, err)
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, time.Duration(0), cfg.RotationInterval)
	assert.Equal(t, 0, cfg.MaxConcurrentStreams)
	assert.Equal(t, ByteSize(1<<20), cfg.MaxLogSize, "a plain number is bytes")
}

// TestConfigInvalidValuesAreRejectedNamingTheKey loads each invalid named
// configuration and requires an error (from unmarshalling or from Validate)
// that names the offending key.
func TestConfigInvalidValuesAreRejectedNamingTheKey(t *testing.T) {
	tests := []struct {
		name string
		key  string // the error must contain it
		also string // and this, when set
	}{
		{name: "negative_timeout", key: "timeout"},
		{name: "zero_timeout", key: "timeout"},
		{name: "negative_rotation_interval", key: "rotation_interval"},
		{name: "short_rotation_interval", key: "rotation_interval", also: "50ms"},
		{name: "negative_resync_interval", key: "resync_interval"},
		{name: "bad_include_glob", key: "include.names[0]"},
		{name: "bad_exclude_regex", key: "exclude.images[0]"},
		{name: "bad_include_label", key: "include.labels[0]"},
		{name: "empty_include_name", key: "include.names[0]"},
		{name: "unknown_start_at", key: "start_at", also: "middle"},
		{name: "api_version_too_old", key: "api_version", also: "1.39"},
		{name: "api_version_malformed", key: "api_version", also: "abc"},
		{name: "zero_max_log_size", key: "max_log_size"},
		{name: "unknown_unit_max_log_size", key: "max_log_size", also: "12XB"},
		{name: "huge_max_log_size", key: "max_log_size"},
		{name: "negative_max_concurrent_streams", key: "max_concurrent_streams"},
		{name: "negative_idle_timeout", key: "idle_timeout"},
		{name: "negative_first_byte_timeout", key: "first_byte_timeout"},
		{name: "zero_storage_retention", key: "storage_retention"},
		{name: "bad_endpoint", key: "endpoint"},
		{name: "empty_label_attribute", key: "labels_to_attributes"},
		{name: "bad_labels_include", key: "labels.include[1]", also: "empty pattern"},
		{name: "bad_labels_exclude", key: "labels.exclude[0]", also: "bad regex"},
		{name: "multiline_two_patterns", key: "multiline", also: "only one of"},
		{name: "multiline_bad_mode", key: "multiline.mode", also: `"java"`},
		{name: "multiline_bad_pattern", key: "multiline.line_start_pattern", also: "missing closing )"},
		{name: "multiline_negative_flush_timeout", key: "multiline.flush_timeout", also: "-1s"},
		{name: "multiline_negative_max_lines", key: "multiline.max_lines", also: "-5"},
		{name: "multiline_bad_rule_pattern", key: "multiline.rules[1].line_end_pattern", also: "invalid character class range"},
		{name: "multiline_bad_rule_match", key: "multiline.rules[0].match.labels[0]", also: "empty label key"},
		{name: "multiline_unknown_key", key: "max_bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(t, tc.name)
			if err == nil {
				err = confmap.Validate(cfg)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.key)
			if tc.also != "" {
				assert.Contains(t, err.Error(), tc.also)
			}
			if strings.HasPrefix(tc.name, "multiline") {
				assert.Equal(t, 1, strings.Count(err.Error(), tc.key), "reported more than once: %v", err)
			}
			// Bad patterns also stop the factory, should Validate be skipped.
			if cfg != nil && (strings.HasPrefix(tc.key, "include") || strings.HasPrefix(tc.key, "exclude") || strings.HasPrefix(tc.key, "labels.")) {
				_, cerr := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
				assert.ErrorContains(t, cerr, tc.key)
			}
		})
	}
}

func TestConfigByteSizeParsing(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		err  bool
	}{
		{in: "0", want: 0},
		{in: "123", want: 123},
		{in: "100B", want: 100},
		{in: "1KiB", want: 1 << 10},
		{in: "512KiB", want: 512 << 10},
		{in: "1MiB", want: 1 << 20},
		{in: "3GiB", want: 3 << 30},
		{in: "1KB", want: 1000},
		{in: "10MB", want: 10_000_000},
		{in: "2GB", want: 2_000_000_000},
		{in: " 7 KiB ", want: 7 << 10},
		{in: "64MiB", want: 64 << 20},
		{in: "", err: true},
		{in: "MiB", err: true},
		{in: "12XB", err: true},
		{in: "1mib", err: true},
		{in: "1.5MiB", err: true},
		{in: "-1", err: true},
		{in: "-1KiB", err: true},
		{in: "1e6", err: true},
		{in: "0x10", err: true},
		{in: "1 000", err: true},
		{in: "9999999999GiB", err: true},
		{in: "99999999999999999999", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			b := ByteSize(42)
			err := b.UnmarshalText([]byte(tc.in))
			if tc.err {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.in)
				assert.Equal(t, ByteSize(42), b, "a failed parse must leave the value alone")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, b)
		})
	}
}
