package fakedocker

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
)

// Container describes a fake container.
type Container struct {
	// ID is the full container ID; generated (64 hex chars) when empty.
	ID string
	// Name without the leading "/"; generated when empty.
	Name string
	// Image is the image reference (Config.Image); "busybox:latest" when empty.
	Image  string
	Labels map[string]string
	Env    []string
	TTY    bool
	// LogDriver is the logging driver; "" means "json-file". With "none",
	// /logs answers 501 like the real daemon.
	LogDriver string
	// LogOpts is HostConfig.LogConfig.Config.
	LogOpts map[string]string
	// LogAttrs are the per-message attributes sent when /logs is called with
	// details=1 (the real daemon takes them from the "labels"/"env" log-opts).
	LogAttrs map[string]string
	// Entrypoint and Cmd are Config.Entrypoint and Config.Cmd; inspect's
	// Path and Args are the two joined, like the daemon does ("/bin/sh"
	// and no arguments when both are empty).
	Entrypoint []string
	Cmd        []string
}

type state int

const (
	stateCreated state = iota
	stateRunning
	stateExited
)

func (s state) String() string {
	switch s {
	case stateRunning:
		return string(container.StateRunning)
	case stateExited:
		return string(container.StateExited)
	default:
		return string(container.StateCreated)
	}
}

// ctr is the daemon-side state of a container. All fields are guarded by
// Daemon.mu, except that the elements of log below len(log) are immutable
// once appended (followers read them without the lock).
type ctr struct {
	c          Container
	created    time.Time
	state      state
	pid        int
	startedAt  time.Time
	finishedAt time.Time
	removed    bool
	// stops counts Stop/Remove calls: a follower ends when it changes.
	stops    int
	exitCode int // of the last run
	log      []Entry
	forgot   int           // messages dropped from the front of log by Forget
	notify   chan struct{} // closed and replaced on every log append / stop
}

func (c *ctr) wakeLocked() {
	close(c.notify)
	c.notify = make(chan struct{})
}

// AddContainer registers a container in the "created" state and emits a
// "create" event.
func (d *Daemon) AddContainer(c Container) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.idSeq++
	if c.ID == "" {
		sum := sha256.Sum256([]byte("fakedocker/" + c.Name + "/" + strconv.Itoa(d.idSeq)))
		c.ID = hex.EncodeToString(sum[:])
	}
	c.Name = strings.TrimPrefix(c.Name, "/")
	if c.Name == "" {
		c.Name = "fake_" + shortID(c.ID)
	}
	if c.Image == "" {
		c.Image = "busybox:latest"
	}
	c.Labels = maps.Clone(c.Labels)
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	c.Env = slices.Clone(c.Env)
	c.LogOpts = maps.Clone(c.LogOpts)
	c.LogAttrs = maps.Clone(c.LogAttrs)
	c.Entrypoint = slices.Clone(c.Entrypoint)
	c.Cmd = slices.Clone(c.Cmd)
	if _, dup := d.containers[c.ID]; dup {
		d.t.Errorf("fakedocker: AddContainer: duplicate ID %s", c.ID)
		return
	}
	k := &ctr{c: c, created: d.now(), notify: make(chan struct{})}
	d.containers[c.ID] = k
	d.order = append(d.order, k)
	d.emitLocked(events.ActionCreate, k, nil)
}

// ContainerID resolves a name, ID or unique ID prefix to the full ID
// ("" when unknown).
func (d *Daemon) ContainerID(ref string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if k := d.lookupLocked(ref); k != nil {
		return k.c.ID
	}
	return ""
}

// Start marks the container running (StartedAt = now) and emits "start".
func (d *Daemon) Start(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.mustLocked("Start", id)
	if k == nil || k.state == stateRunning {
		return
	}
	k.state = stateRunning
	k.startedAt = d.now()
	k.pid = 1000 + d.idSeq
	d.emitLocked(events.ActionStart, k, nil)
}

// Stop marks the container exited with code 0 and emits "die". Every
// follow stream of the container ends with a clean EOF after sending
// everything written before the Stop.
func (d *Daemon) Stop(id string) { d.Exit(id, 0) }

// Exit is Stop with the process's exit code: "die" carries it as exitCode,
// and inspect's State.ExitCode and the listing's status report it.
func (d *Daemon) Exit(id string, code int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if k := d.mustLocked("Exit", id); k != nil {
		d.exitLocked(k, code)
	}
}

func (d *Daemon) stopLocked(k *ctr) { d.exitLocked(k, 0) }

func (d *Daemon) exitLocked(k *ctr, code int) {
	if k.state != stateRunning {
		return
	}
	k.state = stateExited
	k.pid = 0
	k.exitCode = code
	k.finishedAt = d.now()
	k.stops++
	k.wakeLocked()
	d.emitLocked(events.ActionDie, k, map[string]string{"exitCode": strconv.Itoa(code)})
}

// EmitContainerEvent emits a container event the other helpers do not
// produce (oom, kill, "health_status: healthy", restart, ...) with the
// container's attributes, as the daemon's LogContainerEvent does: labels,
// then name and image, then extra. It changes no state.
func (d *Daemon) EmitContainerEvent(id string, action events.Action, extra map[string]string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if k := d.mustLocked("EmitContainerEvent", id); k != nil {
		d.emitLocked(action, k, extra)
	}
}

// Remove deletes the container (list/inspect/logs answer 404 afterwards) and
// emits "destroy". A running container is stopped first (with "die").
func (d *Daemon) Remove(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.mustLocked("Remove", id)
	if k == nil {
		return
	}
	d.stopLocked(k)
	k.removed = true
	k.stops++
	k.wakeLocked()
	delete(d.containers, k.c.ID)
	d.emitLocked(events.ActionDestroy, k, nil)
}

// Rename renames the container and emits "rename" with the attributes
// oldName ("/"+old) and name (new).
func (d *Daemon) Rename(id, newName string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.mustLocked("Rename", id)
	if k == nil {
		return
	}
	old := k.c.Name
	k.c.Name = strings.TrimPrefix(newName, "/")
	d.emitLocked(events.ActionRename, k, map[string]string{"oldName": "/" + old})
}

// lookupLocked finds a live container by full ID, name ("/name" too) or
// unique ID prefix, like the daemon.
func (d *Daemon) lookupLocked(ref string) *ctr {
	if k, ok := d.containers[ref]; ok {
		return k
	}
	name := strings.TrimPrefix(ref, "/")
	for _, k := range d.containers {
		if k.c.Name == name {
			return k
		}
	}
	var found *ctr
	for id, k := range d.containers {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil // ambiguous
			}
			found = k
		}
	}
	return found
}

func (d *Daemon) mustLocked(op, id string) *ctr {
	k := d.lookupLocked(id)
	if k == nil {
		d.t.Errorf("fakedocker: %s: no such container %q", op, id)
	}
	return k
}

func (d *Daemon) handleList(w http.ResponseWriter, req Request) {
	f, err := parseFilters(req.Query.Get("filters"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid filter: "+err.Error())
		return
	}
	all := boolValue(req.Query, "all") || len(f["status"]) > 0
	limit, _ := strconv.Atoi(req.Query.Get("limit"))

	d.mu.Lock()
	out := []container.Summary{}
	for i := len(d.order) - 1; i >= 0; i-- { // newest first, like the daemon
		k := d.order[i]
		if k.removed || (!all && k.state != stateRunning) {
			continue
		}
		if !d.matchContainerLocked(k, f) {
			continue
		}
		out = append(out, summaryOf(k))
		if limit > 0 && len(out) == limit {
			break
		}
	}
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (d *Daemon) matchContainerLocked(k *ctr, f map[string][]string) bool {
	if !matchAny(f, "id", func(v string) bool { return strings.HasPrefix(k.c.ID, v) }) {
		return false
	}
	if !matchAny(f, "name", func(v string) bool {
		re, err := regexp.Compile(v)
		return err == nil && re.MatchString("/"+k.c.Name)
	}) {
		return false
	}
	if !matchAny(f, "status", func(v string) bool { return v == k.state.String() }) {
		return false
	}
	// Every label term must match (the daemon's MatchKVList).
	for _, v := range f["label"] {
		if !matchLabel(k.c.Labels)(v) {
			return false
		}
	}
	return true
}

func summaryOf(k *ctr) container.Summary {
	s := container.Summary{
		ID:      k.c.ID,
		Names:   []string{"/" + k.c.Name},
		Image:   k.c.Image,
		ImageID: imageID(k.c.Image),
		Command: "/bin/sh",
		Created: k.created.Unix(),
		Ports:   []container.PortSummary{},
		Labels:  maps.Clone(k.c.Labels),
		State:   container.ContainerState(k.state.String()),
		Status:  statusText(k),
		Mounts:  []container.MountPoint{},
	}
	s.HostConfig.NetworkMode = "bridge"
	return s
}

func statusText(k *ctr) string {
	switch k.state {
	case stateRunning:
		return "Up"
	case stateExited:
		return "Exited (" + strconv.Itoa(k.exitCode) + ")"
	default:
		return "Created"
	}
}

func (d *Daemon) handleInspect(w http.ResponseWriter, ref string) {
	d.mu.Lock()
	k := d.lookupLocked(ref)
	var resp container.InspectResponse
	if k != nil {
		resp = inspectOf(k)
	}
	d.mu.Unlock()
	if k == nil {
		writeError(w, http.StatusNotFound, "No such container: "+ref)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func inspectOf(k *ctr) container.InspectResponse {
	driver := logDriver(k.c)
	logPath := ""
	if driver == "json-file" {
		logPath = "/var/lib/docker/containers/" + k.c.ID + "/" + k.c.ID + "-json.log"
	}
	logOpts := maps.Clone(k.c.LogOpts)
	if logOpts == nil {
		logOpts = map[string]string{}
	}
	path, args := "/bin/sh", []string{}
	if argv := slices.Concat(k.c.Entrypoint, k.c.Cmd); len(argv) > 0 {
		path, args = argv[0], argv[1:]
	}
	return container.InspectResponse{
		ID:      k.c.ID,
		Created: k.created.UTC().Format(time.RFC3339Nano),
		Path:    path,
		Args:    args,
		State: &container.State{
			Status:     container.ContainerState(k.state.String()),
			Running:    k.state == stateRunning,
			Pid:        k.pid,
			ExitCode:   k.exitCode,
			StartedAt:  k.startedAt.UTC().Format(time.RFC3339Nano),
			FinishedAt: k.finishedAt.UTC().Format(time.RFC3339Nano),
		},
		Image:    imageID(k.c.Image),
		LogPath:  logPath,
		Name:     "/" + k.c.Name,
		Driver:   "overlay2",
		Platform: "linux",
		HostConfig: &container.HostConfig{
			LogConfig:   container.LogConfig{Type: driver, Config: logOpts},
			NetworkMode: "bridge",
		},
		Mounts: []container.MountPoint{},
		Config: &container.Config{
			Hostname:   shortID(k.c.ID),
			Image:      k.c.Image,
			Labels:     maps.Clone(k.c.Labels),
			Env:        slices.Clone(k.c.Env),
			Tty:        k.c.TTY,
			Entrypoint: slices.Clone(k.c.Entrypoint),
			Cmd:        slices.Clone(k.c.Cmd),
		},
	}
}

func logDriver(c Container) string {
	if c.LogDriver == "" {
		return "json-file"
	}
	return c.LogDriver
}

func imageID(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
