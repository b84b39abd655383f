// Package receiver is the dockerlogsrotating receiver component: its
// configuration, factory and lifecycle. It wires the internal packages
// together; the work happens there.
package receiver // import "github.com/dockerlogsrotating/dockerlogsrotating/receiver"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	otelreceiver "go.opentelemetry.io/collector/receiver"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
)

// NewFactory returns the factory of the dockerlogsrotating receiver.
func NewFactory() otelreceiver.Factory {
	return otelreceiver.NewFactory(metadata.Type, createDefaultConfig,
		otelreceiver.WithLogs(createLogs, metadata.LogsStability))
}

func createLogs(_ context.Context, set otelreceiver.Settings, cfg component.Config, next consumer.Logs) (otelreceiver.Logs, error) {
	return newLogsReceiver(set, cfg.(*Config), next)
}
