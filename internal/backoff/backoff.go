// Package backoff spaces retries: a delay that doubles up to a cap, and a
// wait that ends early when its context does.
package backoff // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"

import (
	"context"
	"time"
)

// Policy is a capped exponential backoff.
type Policy struct{ Initial, Max time.Duration }

// Next is the delay after d: Initial after none (d == 0), then twice the
// last, at most Max.
func (p Policy) Next(d time.Duration) time.Duration {
	if d == 0 {
		return p.Initial
	}
	return min(2*d, p.Max)
}

// Sleep waits for d or until ctx ends; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
