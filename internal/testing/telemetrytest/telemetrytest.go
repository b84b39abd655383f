// Package telemetrytest reads the receiver's own metrics from a
// componenttest.Telemetry, for tests that wait on a counter or compare a
// total. For asserting every data point of one metric exactly, the
// generated internal/metadatatest AssertEqual functions fit better.
package telemetrytest

import (
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Sum returns the total of the int64 sum metric called name (a counter or
// an up-down counter, by its exported name such as
// "otelcol_dockerlogsrotating_records_dropped") over its data points whose
// attribute key has value, or over all of them when key is empty. A metric
// not recorded yet, or of another kind, sums to 0.
func Sum(tt *componenttest.Telemetry, name, key, value string) int64 {
	m, err := tt.GetMetric(name)
	if err != nil {
		return 0
	}
	var n int64
	if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
		for _, dp := range sum.DataPoints {
			if v, ok := dp.Attributes.Value(attribute.Key(key)); key == "" || (ok && v.AsString() == value) {
				n += dp.Value
			}
		}
	}
	return n
}

// HistogramMax returns the largest value recorded by the float64 histogram
// called name and how many values it recorded, over all its data points;
// 0, 0 for a metric not recorded yet or of another kind.
func HistogramMax(tt *componenttest.Telemetry, name string) (maxValue float64, count uint64) {
	m, err := tt.GetMetric(name)
	if err != nil {
		return 0, 0
	}
	if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
		for _, dp := range h.DataPoints {
			if v, ok := dp.Max.Value(); ok && v > maxValue {
				maxValue = v
			}
			count += dp.Count
		}
	}
	return maxValue, count
}
