package follower

import (
	"sync/atomic"
	"time"
)

// watchdog cancels a stream that goes quiet: for firstByte until its first
// message (the daemon may scan a large log before sending it), then for
// idle between reads. A zero duration disables that phase.
type watchdog struct {
	t     *time.Timer
	idle  time.Duration
	fired atomic.Bool
}

func startWatchdog(firstByte, idle time.Duration, cancel func()) *watchdog {
	w := &watchdog{idle: idle}
	if firstByte > 0 || idle > 0 {
		w.t = time.AfterFunc(time.Hour, func() { w.fired.Store(true); cancel() })
		w.t.Stop()
		if firstByte > 0 {
			w.t.Reset(firstByte)
		}
	}
	return w
}

// fed records that data arrived: the idle phase starts or restarts.
func (w *watchdog) fed() {
	if w.t == nil {
		return
	}
	if w.idle > 0 {
		w.t.Reset(w.idle)
	} else {
		w.t.Stop()
	}
}

func (w *watchdog) stop() {
	if w.t != nil {
		w.t.Stop()
	}
}
