package dockerlogsrotating // import "github.com/dockerlogsrotating/dockerlogsrotating"

import (
	otelreceiver "go.opentelemetry.io/collector/receiver"

	"github.com/dockerlogsrotating/dockerlogsrotating/receiver"
)

// NewFactory returns the factory of the dockerlogsrotating receiver; list
// this module in an ocb manifest to build it into a collector.
func NewFactory() otelreceiver.Factory { return receiver.NewFactory() }
