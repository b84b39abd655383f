//go:build !linux

package docker

import (
	"context"
	"net"
)

// dialUnix dials through Go's network poller: the blocking socket of
// unixconn_linux.go is built for Linux only.
func dialUnix(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}
