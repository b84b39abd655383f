package receiver

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/labelcopy"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/match"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
)

// Config is the receiver's configuration. Every key, its default and its
// meaning are listed in the README.
type Config struct {
	// Endpoint is the Docker daemon's address; empty means DOCKER_HOST (and
	// DOCKER_CERT_PATH, DOCKER_TLS_VERIFY) from the environment.
	Endpoint string `mapstructure:"endpoint"`
	// APIVersion pins the Engine API version; empty negotiates it.
	APIVersion string `mapstructure:"api_version"`
	// TLS configures client TLS for tcp:// endpoints.
	TLS configoptional.Optional[configtls.ClientConfig] `mapstructure:"tls"`
	// Timeout bounds each short request (version, list, inspect); log and
	// event streams are never cut by it.
	Timeout time.Duration `mapstructure:"timeout"`

	// StartAt says where to start reading a container that has no position
	// yet: "end" (lines written from now on) or "beginning".
	StartAt string `mapstructure:"start_at"`
	// RotationInterval is how often each log stream is closed and reopened
	// (±10% jitter). 0 disables rotation.
	RotationInterval time.Duration `mapstructure:"rotation_interval"`
	// IdleTimeout reopens a stream that sent nothing for this long after
	// its first message (a stalled connection); 0 leaves it to rotation.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// FirstByteTimeout reopens a stream whose first message has not come
	// this long after it was opened; 0 leaves it to rotation.
	FirstByteTimeout time.Duration `mapstructure:"first_byte_timeout"`
	// MaxConcurrentStreams caps the open log streams; 0 means no cap.
	MaxConcurrentStreams int `mapstructure:"max_concurrent_streams"`
	// ResyncInterval is how often the container list is read again to
	// catch what the event stream missed.
	ResyncInterval time.Duration `mapstructure:"resync_interval"`

	Include MatchConfig `mapstructure:"include"`
	Exclude MatchConfig `mapstructure:"exclude"`
	// ExcludeSelf skips the container the collector itself runs in.
	ExcludeSelf bool `mapstructure:"exclude_self"`

	// MaxLogSize is the longest line kept whole; longer lines are truncated
	// to it and flagged.
	MaxLogSize ByteSize `mapstructure:"max_log_size"`
	// Multiline joins the lines of a stack trace (or of any record that a
	// pattern delimits) into one record.
	Multiline MultilineConfig `mapstructure:"multiline"`

	// Labels copies the container labels whose keys match include and not
	// exclude to container.label.<key> resource attributes.
	Labels LabelsConfig `mapstructure:"labels"`
	// LabelsToAttributes copies the named container labels to resource
	// attributes: label name -> attribute name. A label named here is
	// copied under this name only, even when Labels selects it too.
	LabelsToAttributes map[string]string `mapstructure:"labels_to_attributes"`
	// EnvToAttributes copies the named environment variables of the
	// container to resource attributes: variable name -> attribute name.
	EnvToAttributes map[string]string `mapstructure:"env_to_attributes"`

	ResourceAttributes metadata.ResourceAttributesConfig `mapstructure:"resource_attributes"`

	// Storage names a storage extension (file_storage) that keeps positions
	// across collector restarts; without it start_at decides after a restart.
	Storage *component.ID `mapstructure:"storage"`
	// StorageRetention deletes saved positions of containers not followed
	// for this long.
	StorageRetention time.Duration `mapstructure:"storage_retention"`

	// LifecycleEvents emits the selected containers' lifecycle events as
	// log records.
	LifecycleEvents LifecycleEventsConfig `mapstructure:"lifecycle_events"`

	_ struct{}
}

// MatchConfig selects containers by name, image and label. Patterns are
// globs, or regular expressions written /like this/; labels are "key" or
// "key=pattern".
type MatchConfig struct {
	Names  []string `mapstructure:"names"`
	Images []string `mapstructure:"images"`
	Labels []string `mapstructure:"labels"`
}

// LabelsConfig selects label keys with the pattern syntax of MatchConfig:
// globs, or regular expressions written /like this/. Nothing is copied
// without an include pattern.
type LabelsConfig struct {
	Include []string `mapstructure:"include"`
	Exclude []string `mapstructure:"exclude"`
}

func (l LabelsConfig) selector() (*labelcopy.Selector, error) {
	return labelcopy.Compile(l.Include, l.Exclude)
}

func (m MatchConfig) rules() match.Rules {
	return match.Rules{Names: m.Names, Images: m.Images, Labels: m.Labels}
}

// LifecycleEventsConfig turns the Docker events start, die, oom, kill,
// health_status and restart of the selected containers into log records in
// the same pipeline as their lines. Off by default.
type LifecycleEventsConfig struct {
	Enabled bool `mapstructure:"enabled"`
}

// Where a container without a saved position starts.
const (
	StartAtEnd       = "end"
	StartAtBeginning = "beginning"
)

const (
	defaultEndpoint         = "unix:///var/run/docker.sock"
	defaultTimeout          = 10 * time.Second
	defaultRotationInterval = 5 * time.Minute
	defaultMaxStreams       = 50
	defaultResyncInterval   = time.Minute
	defaultMaxLogSize       = 1 << 20
	defaultStorageRetention = 7 * 24 * time.Hour

	minRotationInterval = 100 * time.Millisecond
	maxMaxLogSize       = 64 << 20
	minAPIVersion       = "1.40" // the oldest github.com/moby/moby/client speaks
)

func createDefaultConfig() component.Config {
	return &Config{
		Endpoint:             defaultEndpoint,
		Timeout:              defaultTimeout,
		StartAt:              StartAtEnd,
		RotationInterval:     defaultRotationInterval,
		MaxConcurrentStreams: defaultMaxStreams,
		ResyncInterval:       defaultResyncInterval,
		ExcludeSelf:          true,
		MaxLogSize:           defaultMaxLogSize,
		StorageRetention:     defaultStorageRetention,
		ResourceAttributes:   metadata.DefaultResourceAttributesConfig(),
	}
}

var apiVersionPattern = regexp.MustCompile(`^1\.[0-9]{1,3}$`)

// Validate checks every key and names the offending one.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Endpoint != "" {
		if _, err := client.ParseHostURL(cfg.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("endpoint: %w", err))
		}
	}
	if v := cfg.APIVersion; v != "" {
		if !apiVersionPattern.MatchString(v) {
			errs = append(errs, fmt.Errorf("api_version: %q is not of the form 1.NN (quote it in YAML: api_version: \"1.44\")", v))
		} else if versionLess(v, minAPIVersion) {
			errs = append(errs, fmt.Errorf("api_version: %q is older than %s, the oldest version this receiver's Docker client speaks", v, minAPIVersion))
		}
	}
	if cfg.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %v", cfg.Timeout))
	}
	switch cfg.StartAt {
	case StartAtEnd, StartAtBeginning:
	default:
		errs = append(errs, fmt.Errorf("start_at: must be %q or %q, got %q", StartAtEnd, StartAtBeginning, cfg.StartAt))
	}
	if cfg.RotationInterval < 0 || (cfg.RotationInterval > 0 && cfg.RotationInterval < minRotationInterval) {
		errs = append(errs, fmt.Errorf("rotation_interval: must be 0 (off) or at least %v, got %v", minRotationInterval, cfg.RotationInterval))
	}
	for key, d := range map[string]time.Duration{"idle_timeout": cfg.IdleTimeout, "first_byte_timeout": cfg.FirstByteTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: must be 0 (off) or positive, got %v", key, d))
		}
	}
	if cfg.MaxConcurrentStreams < 0 {
		errs = append(errs, fmt.Errorf("max_concurrent_streams: must be 0 (no cap) or positive, got %d", cfg.MaxConcurrentStreams))
	}
	if cfg.ResyncInterval <= 0 {
		errs = append(errs, fmt.Errorf("resync_interval: must be positive, got %v", cfg.ResyncInterval))
	}
	if cfg.StorageRetention <= 0 {
		errs = append(errs, fmt.Errorf("storage_retention: must be positive, got %v", cfg.StorageRetention))
	}
	if cfg.MaxLogSize <= 0 || cfg.MaxLogSize > maxMaxLogSize {
		errs = append(errs, fmt.Errorf("max_log_size: must be between 1 byte and 64MiB, got %d", cfg.MaxLogSize))
	}
	if _, err := match.Compile(cfg.Include.rules(), cfg.Exclude.rules()); err != nil {
		errs = append(errs, err)
	}
	if _, err := cfg.Labels.selector(); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.Multiline.validate(); err != nil {
		errs = append(errs, err)
	}
	for key, attrs := range map[string]map[string]string{"labels_to_attributes": cfg.LabelsToAttributes, "env_to_attributes": cfg.EnvToAttributes} {
		for from, to := range attrs {
			if from == "" || to == "" {
				errs = append(errs, fmt.Errorf("%s: empty name in %q: %q", key, from, to))
			}
		}
	}
	return errors.Join(errs...)
}

// versionLess compares API versions of the form 1.NN numerically.
func versionLess(a, b string) bool {
	minor := func(v string) int {
		_, m, _ := strings.Cut(v, ".")
		n, _ := strconv.Atoi(m)
		return n
	}
	return minor(a) < minor(b)
}

// ByteSize is a size in bytes that reads "1MiB", "512KiB", "10MB" or a plain
// number.
type ByteSize int64

var byteUnits = []struct {
	suffix string
	scale  int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
}

// UnmarshalText parses a size with an optional binary or decimal unit.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	scale := int64(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, scale = strings.TrimSpace(rest), u.scale
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/scale {
		return fmt.Errorf("invalid size %q: want a whole number with an optional unit B, KiB, MiB, GiB, KB, MB or GB", string(text))
	}
	*b = ByteSize(n * scale)
	return nil
}
