package receiver

import (
	"context"
	"os"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/telemetrytest"
)

// run starts a receiver with cfg delivering to sink, and shuts it down
// when the test ends. It returns the receiver's own telemetry.
func run(t *testing.T, cfg *Config, sink *logsink.Sink) *componenttest.Telemetry {
	t.Helper()
	tt := componenttest.NewTelemetry()
	set := receivertest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tt.NewTelemetrySettings()
	set.BuildInfo.Version = "test"
	if os.Getenv("DLR_TEST_DEBUG") != "" {
		set.Logger = zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel))
	}
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		_ = tt.Shutdown(ctx)
	})
	return tt
}

func testConfig(endpoint string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = endpoint
	cfg.StartAt = StartAtBeginning
	cfg.ResyncInterval = 2 * time.Second
	return cfg
}

// counter sums an int counter's data points whose attribute key has value
// (any value when key is empty).
func counter(t *testing.T, tt *componenttest.Telemetry, name, key, value string) int64 {
	t.Helper()
	return telemetrytest.Sum(tt, "otelcol_"+name, key, value)
}

// histogramMax returns the largest value recorded by a histogram.
func histogramMax(t *testing.T, tt *componenttest.Telemetry, name string) (float64, uint64) {
	t.Helper()
	return telemetrytest.HistogramMax(tt, "otelcol_"+name)
}

var _ component.Host = componenttest.NewNopHost()
