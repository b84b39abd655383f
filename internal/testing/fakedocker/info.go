package fakedocker

import (
	"net/http"
	"runtime"
	"time"

	"github.com/moby/moby/api/types/system"
)

// Info is what /info reports about the daemon's host.
type Info struct {
	// Name is the host name the daemon reports ("fakedocker-host" by default).
	Name string
	// ID is the daemon's ID; empty leaves it out, as some daemons do.
	ID string
}

// DefaultInfo is what /info reports without WithInfo.
var DefaultInfo = Info{Name: "fakedocker-host", ID: "f4k3d0ck-0000-4000-8000-000000000001"}

// WithInfo sets the host name and daemon ID that /info reports.
func WithInfo(i Info) Option { return func(c *config) { c.info = &i } }

func (d *Daemon) handleInfo(w http.ResponseWriter) {
	info := DefaultInfo
	if d.cfg.info != nil {
		info = *d.cfg.info
	}
	d.mu.Lock()
	var running, stopped int
	for _, k := range d.containers {
		switch k.state {
		case stateRunning:
			running++
		case stateExited:
			stopped++
		}
	}
	total := len(d.containers)
	d.mu.Unlock()
	now := d.now()
	writeJSON(w, http.StatusOK, system.Info{
		ID:                info.ID,
		Name:              info.Name,
		Containers:        total,
		ContainersRunning: running,
		ContainersStopped: stopped,
		ServerVersion:     d.cfg.engineVersion,
		Driver:            "overlay2",
		LoggingDriver:     "json-file",
		OperatingSystem:   "fakedocker",
		OSType:            "linux",
		Architecture:      runtime.GOARCH,
		KernelVersion:     "6.8.0-fakedocker",
		NCPU:              runtime.NumCPU(),
		SystemTime:        now.Format(time.RFC3339Nano),
	})
}
