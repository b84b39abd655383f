package docker

import (
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
)

// Container is what the receiver needs to know of one container. Values
// are immutable once built: a change (rename, restart) makes a new one.
type Container struct {
	ID       string
	Name     string // without Docker's leading slash
	Image    string // the reference the container was created from
	ImageID  string
	Hostname string
	Labels   map[string]string
	Env      map[string]string
	TTY      bool
	Running  bool
	// StartedAt is when the current (or last) run started, by the daemon's clock.
	StartedAt time.Time
	// FinishedAt is when the last run ended (zero while the first runs).
	FinishedAt time.Time
	// LogDriver is the configured logging driver, e.g. json-file.
	LogDriver string
	// Command is what the container runs: its entrypoint and command
	// merged by Docker (inspect's Path and Args), the executable first.
	Command []string
}

// ContainerFromInspect extracts a Container from an inspect response; it
// tolerates missing sections.
func ContainerFromInspect(r container.InspectResponse) Container {
	c := Container{ID: r.ID, Name: strings.TrimPrefix(r.Name, "/"), ImageID: r.Image}
	if r.Path != "" {
		c.Command = append([]string{r.Path}, r.Args...)
	}
	if cfg := r.Config; cfg != nil {
		c.Image, c.Hostname, c.Labels, c.TTY = cfg.Image, cfg.Hostname, cfg.Labels, cfg.Tty
		if len(cfg.Env) > 0 {
			c.Env = make(map[string]string, len(cfg.Env))
			for _, kv := range cfg.Env {
				k, v, _ := strings.Cut(kv, "=")
				c.Env[k] = v
			}
		}
	}
	if st := r.State; st != nil {
		// A container waiting to be restarted is Running and Restarting
		// for the daemon, but no process writes to its log.
		c.Running = st.Running && !st.Restarting
		c.StartedAt, _ = time.Parse(time.RFC3339Nano, st.StartedAt)
		c.FinishedAt, _ = time.Parse(time.RFC3339Nano, st.FinishedAt)
	}
	if hc := r.HostConfig; hc != nil {
		c.LogDriver = hc.LogConfig.Type
	}
	return c
}
