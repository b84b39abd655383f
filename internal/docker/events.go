package docker

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/moby/moby/client"
)

// SubscribeEvents opens an event stream on ctx. The client waits for the
// response headers without a deadline, and a daemon that never answers
// would stall the caller for good, so the wait is bounded by timeout.
// cancel must cancel ctx: it is called on timeout, so that the client's
// goroutine ends. Once it returns without error, the caller owns the
// stream and ends it by cancelling ctx.
func SubscribeEvents(ctx context.Context, cancel context.CancelFunc, api API, opts client.EventsListOptions, timeout time.Duration) (client.EventsResult, error) {
	got := make(chan client.EventsResult, 1)
	go func() { got <- api.Events(ctx, opts) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case ev := <-got:
		return ev, nil
	case <-t.C:
		cancel() // the client then returns, and its goroutine ends
		<-got
		return client.EventsResult{}, errors.New("subscribe to Docker events: no answer within timeout")
	}
}

// Since formats a daemon time in Unix nanoseconds as a since or until
// parameter ("seconds.nanoseconds"), which the daemon reads exactly.
func Since(unixNano int64) string {
	ns := strconv.FormatInt(unixNano%1e9, 10)
	return strconv.FormatInt(unixNano/1e9, 10) + "." + "000000000"[len(ns):] + ns
}
