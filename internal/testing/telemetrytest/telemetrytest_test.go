package telemetrytest

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

func TestSumAndHistogramMax(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tt.Shutdown(context.Background()) })
	meter := tt.NewTelemetrySettings().MeterProvider.Meter("test")
	ctx := context.Background()

	c, err := meter.Int64Counter("otelcol_test_errors")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, 2, metric.WithAttributes(attribute.String("error.type", "consumer")))
	c.Add(ctx, 3, metric.WithAttributes(attribute.String("error.type", "api")))
	for _, tc := range []struct {
		key, value string
		want       int64
	}{{"", "", 5}, {"error.type", "consumer", 2}, {"error.type", "api", 3}, {"error.type", "other", 0}, {"other", "", 0}} {
		if got := Sum(tt, "otelcol_test_errors", tc.key, tc.value); got != tc.want {
			t.Errorf("Sum(%q=%q) = %d, want %d", tc.key, tc.value, got, tc.want)
		}
	}
	if got := Sum(tt, "otelcol_test_missing", "", ""); got != 0 {
		t.Errorf("Sum of a metric not recorded = %d, want 0", got)
	}

	h, err := meter.Float64Histogram("otelcol_test_lag")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{0.5, 4, 1} {
		h.Record(ctx, v)
	}
	if mx, n := HistogramMax(tt, "otelcol_test_lag"); mx != 4 || n != 3 {
		t.Errorf("HistogramMax = %v, %d; want 4, 3", mx, n)
	}
	if mx, n := HistogramMax(tt, "otelcol_test_errors"); mx != 0 || n != 0 {
		t.Errorf("HistogramMax of a counter = %v, %d; want 0, 0", mx, n)
	}
}
