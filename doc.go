//go:generate go tool -modfile=internal/tools/go.mod mdatagen metadata.yaml

// Package dockerlogsrotating is the entry point of the dockerlogsrotating
// receiver: it exposes NewFactory for collector builds (ocb). The component
// itself lives in the receiver package.
package dockerlogsrotating // import "github.com/dockerlogsrotating/dockerlogsrotating"
