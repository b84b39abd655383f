package receiver

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	otelreceiver "go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/backoff"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/checkpoint"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/discovery"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/docker"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/follower"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/imageref"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/labelcopy"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/lifecycle"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/match"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/metadata"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/pool"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/service"
)

const (
	// reopenTail bounds how much of a log the daemon reads back on a
	// reopen (see follower.Settings.ReopenTail).
	reopenTail = 1000
	maxBatch   = 8192
	// maxBatchBytes caps a batch's body bytes: with max_log_size, what a
	// container's batch holds at most is about maxBatchBytes + max_log_size.
	maxBatchBytes = 4 << 20
	// deliverGraceNoDeadline is how long Shutdown without a deadline lets
	// a blocked consumer take the last batches before it cuts them.
	deliverGraceNoDeadline = 5 * time.Second
	// slowStreamPause paces slow streams, so that their lines share reads and
	// ConsumeLogs calls (see follower.Settings.SlowStreamPause).
	slowStreamPause = 100 * time.Millisecond
	backoffInitial  = 100 * time.Millisecond
	backoffMax      = 30 * time.Second
)

// positionSaveInterval is the least time between two writes of positions
// to the storage extension: a crash repeats at most the lines accepted
// during one interval (and one write). At the 300 lines/s of the SIGKILL
// test that is 60 lines, and it bounds a backlog read to 5 writes a second
// instead of one per batch. A variable only so that benchmarks can compare.
var positionSaveInterval = 200 * time.Millisecond

// logsReceiver follows the logs of the selected containers of one daemon.
type logsReceiver struct {
	cfg       *Config
	set       otelreceiver.Settings
	next      consumer.Logs
	telemetry *metadata.TelemetryBuilder
	obsrecv   *receiverhelper.ObsReport
	matcher   *match.Matcher
	labels    *labelcopy.Selector // nil: no container.label.* attributes
	multiline *multilineChooser
	// engine describes the daemon last connected to; nil before the first
	// connection. Set by discovery's Connected callback, read by resource
	// on the followers' goroutines.
	engine atomic.Pointer[engineInfo]

	mu       sync.Mutex // guards the fields below, Start against Shutdown
	cancel   context.CancelFunc
	abandon  context.CancelFunc // cuts deliveries still waiting on the consumer
	done     chan struct{}
	shutdown bool
}

func newLogsReceiver(set otelreceiver.Settings, cfg *Config, next consumer.Logs) (*logsReceiver, error) {
	m, err := match.Compile(cfg.Include.rules(), cfg.Exclude.rules())
	if err != nil {
		return nil, err
	}
	labels, err := cfg.Labels.selector()
	if err != nil {
		return nil, err
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("create telemetry: %w", err)
	}
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID: set.ID, Transport: "docker", LongLivedCtx: true, ReceiverCreateSettings: set,
	})
	if err != nil {
		tel.Shutdown()
		return nil, fmt.Errorf("create obsreport: %w", err)
	}
	ml, err := newMultilineChooser(cfg.Multiline, int(cfg.MaxLogSize), tel, set.Logger)
	if err != nil {
		tel.Shutdown()
		return nil, err
	}
	return &logsReceiver{cfg: cfg, set: set, next: next, telemetry: tel, obsrecv: obs, matcher: m, labels: labels, multiline: ml}, nil
}

// Start launches discovery and returns at once; the daemon is contacted in
// the background, so a daemon that is down never fails the collector.
func (r *logsReceiver) Start(_ context.Context, host component.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shutdown || r.cancel != nil {
		return nil
	}
	tlsCfg, err := r.loadTLS()
	if err != nil {
		return err
	}
	api, err := docker.NewClient(docker.Config{
		Endpoint: r.cfg.Endpoint, APIVersion: r.cfg.APIVersion, TLS: tlsCfg,
		UserAgent: "OpenTelemetry-Collector dockerlogsrotating/" + r.set.BuildInfo.Version,
	})
	if err != nil {
		return err
	}
	if docker.IsPlainTCP(r.cfg.Endpoint, tlsCfg != nil) {
		r.set.Logger.Warn("endpoint is plain TCP: the Docker API is unauthenticated and unencrypted on the network; configure tls")
	}

	store, err := r.openStore(host)
	if err != nil {
		_ = api.Close()
		return err
	}

	ctx, cancel := context.WithCancel(context.Background())
	deliver, abandon := context.WithCancel(context.Background())
	r.cancel, r.abandon, r.done = cancel, abandon, make(chan struct{})

	var positions *checkpoint.Saver
	var mode cursorMode
	fset := &follower.Settings{
		API: api, Pool: pool.New(r.cfg.MaxConcurrentStreams), Consumer: r.next,
		ObsReport: r.obsrecv, Telemetry: r.telemetry, Logger: r.set.Logger,
		Mode: mode.get, Resource: r.resource,
		ScopeName: metadata.ScopeName, ScopeVersion: r.set.BuildInfo.Version,
		StartAtBeginning: r.cfg.StartAt == StartAtBeginning,
		RotationInterval: r.cfg.RotationInterval,
		ReopenTail:       reopenTail,
		IdleTimeout:      r.cfg.IdleTimeout,
		FirstByteTimeout: r.cfg.FirstByteTimeout,
		MaxLogSize:       int(r.cfg.MaxLogSize),
		MaxBatch:         maxBatch,
		MaxBatchBytes:    maxBatchBytes,
		Deliver:          deliver,
		SlowStreamPause:  slowStreamPause,
		Backoff:          backoff.Policy{Initial: backoffInitial, Max: backoffMax},
		Store:            store,
		Multiline:        r.multiline.rulesFor,
	}
	if store != nil {
		positions = checkpoint.NewSaver(store, r.set.Logger, positionSaveInterval)
		fset.Positions = positions
	}
	group := follower.NewGroup(ctx, fset)
	var self discovery.SelfID
	if r.cfg.ExcludeSelf {
		self = discovery.DetectSelf()
	}
	// engineKnown is closed once the engine's version and host are known,
	// which lifecycle records carry in their resource.
	engineKnown := make(chan struct{})
	var engineOnce sync.Once
	var watcher *lifecycle.Watcher
	if r.cfg.LifecycleEvents.Enabled {
		watcher = &lifecycle.Watcher{
			API: api, Consumer: r.next, ObsReport: r.obsrecv, Telemetry: r.telemetry, Logger: r.set.Logger,
			Select: func(c docker.Container) bool {
				return !self.Is(c) && r.matcher.Match(match.Candidate{Name: c.Name, Image: c.Image, Labels: c.Labels})
			},
			Resource:  r.resource,
			ScopeName: metadata.ScopeName, ScopeVersion: r.set.BuildInfo.Version,
			Timeout: r.cfg.Timeout,
			Backoff: backoff.Policy{Initial: backoffInitial, Max: backoffMax},
			Deliver: deliver,
			Ready:   engineKnown,
		}
		if store != nil {
			watcher.Store = store
		}
	}
	d := &discovery.Discovery{
		API: api, Matcher: r.matcher, Self: self, Handler: group, Logger: r.set.Logger,
		Resync: r.cfg.ResyncInterval, Timeout: r.cfg.Timeout,
		// Stopped containers have lines to read at startup only from their
		// saved position, or with start_at beginning.
		InspectStopped: store != nil || r.cfg.StartAt == StartAtBeginning,
		Backoff:        backoff.Policy{Initial: backoffInitial, Max: backoffMax},
		Connected: func(engine docker.Engine) {
			m := cursor.ModeForEngine(engine.Version)
			if engine.Podman {
				m = cursor.SinceAfter
			}
			mode.set(m)
			e := r.learnEngine(ctx, api, engine)
			r.set.Logger.Info("connected to Docker daemon", zap.String("runtime", engine.Runtime()), zap.String("engine_version", engine.Version), zap.Stringer("since_mode", m), zap.String("host_name", e.hostName))
			engineOnce.Do(func() { close(engineKnown) })
		},
		Status: func(err error) { reportStatus(host, err) },
		Failed: func() {
			r.telemetry.DockerlogsrotatingStreamErrors.Add(ctx, 1, follower.ErrorConnect.Attr())
		},
	}
	go func() {
		defer close(r.done)
		var lifecycleDone sync.WaitGroup
		if watcher != nil {
			lifecycleDone.Go(func() { watcher.Run(ctx) })
		}
		d.Run(ctx)
		group.Wait()         // nothing commits positions after it
		lifecycleDone.Wait() // saves its position as it handles events
		if store != nil {
			if err := positions.Close(); err != nil {
				r.set.Logger.Warn("save the last log positions", zap.Error(err))
			}
			if err := store.Close(context.Background()); err != nil {
				r.set.Logger.Warn("close position storage", zap.Error(err))
			}
		}
		_ = api.Close()
	}()
	return nil
}

// Shutdown stops everything Start launched and waits for it, bounded by ctx.
// It is safe without Start and more than once.
func (r *logsReceiver) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.shutdown = true
	cancel, abandon, done := r.cancel, r.abandon, r.done
	r.mu.Unlock()
	if cancel == nil {
		r.telemetry.Shutdown()
		return nil
	}
	cancel() // stop reading; batches already read are still handed on
	defer abandon()
	grace := time.NewTimer(deliverGrace(ctx))
	defer grace.Stop()
	select {
	case <-done:
	case <-grace.C:
		// A consumer still blocks: cut those deliveries (their lines are
		// not committed) and let the followers end.
		abandon()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("shutdown dockerlogsrotating: %w", ctx.Err())
		}
	case <-ctx.Done():
		abandon()
		return fmt.Errorf("shutdown dockerlogsrotating: %w", ctx.Err())
	}
	r.telemetry.Shutdown()
	return nil
}

// deliverGrace is how long Shutdown waits for the consumer to take the last
// batches: three quarters of the time ctx leaves, so that the followers
// still end within it once deliveries are cut.
func deliverGrace(ctx context.Context) time.Duration {
	deadline, ok := ctx.Deadline()
	if !ok {
		return deliverGraceNoDeadline
	}
	return max(time.Until(deadline)*3/4, 0)
}

// openStore connects to the storage extension named by the storage key.
func (r *logsReceiver) openStore(host component.Host) (*checkpoint.Store, error) {
	if r.cfg.Storage == nil {
		return nil, nil
	}
	ext, ok := host.GetExtensions()[*r.cfg.Storage]
	if !ok {
		return nil, fmt.Errorf("storage: extension %q not found", r.cfg.Storage)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("storage: extension %q is not a storage extension", r.cfg.Storage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := se.GetClient(ctx, component.KindReceiver, r.set.ID, "")
	if err != nil {
		return nil, fmt.Errorf("storage: get client from %q: %w", r.cfg.Storage, err)
	}
	store, err := checkpoint.Open(ctx, client, r.cfg.StorageRetention)
	if err != nil {
		_ = client.Close(ctx)
		return nil, fmt.Errorf("storage: %w", err)
	}
	return store, nil
}

func (r *logsReceiver) loadTLS() (*tls.Config, error) {
	tc := r.cfg.TLS.Get()
	if tc == nil {
		return nil, nil
	}
	c, err := tc.LoadTLSConfig(context.Background())
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return c, nil
}

// engineInfo is what the receiver knows of the daemon it is connected to.
type engineInfo struct {
	version, runtime string
	hostName, hostID string
}

// learnEngine records the engine version and, when host.name or host.id is
// enabled, asks the daemon for its host (GET /info, bounded by timeout).
// Should /info fail, the host known from an earlier connection to the same
// endpoint is kept; records simply lack host.* when none is known.
func (r *logsReceiver) learnEngine(ctx context.Context, api docker.API, engine docker.Engine) engineInfo {
	e := engineInfo{version: engine.Version, runtime: engine.Runtime()}
	if old := r.engine.Load(); old != nil {
		e.hostName, e.hostID = old.hostName, old.hostID
	}
	ra := &r.cfg.ResourceAttributes
	if ra.HostName.Enabled || ra.HostID.Enabled {
		ictx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
		res, err := api.Info(ictx, client.InfoOptions{})
		cancel()
		if err != nil {
			r.set.Logger.Warn("read the daemon's host name (GET /info); records carry no host.name until it succeeds on a reconnection", zap.Error(err))
		} else {
			e.hostName, e.hostID = res.Info.Name, res.Info.ID
		}
	}
	r.engine.Store(&e)
	return e
}

// resource builds a container's resource from the enabled attributes, the
// engine's host and version, the label patterns and the label and
// environment mappings. Empty values are left out. It runs on the
// followers' goroutines.
func (r *logsReceiver) resource(c docker.Container) pcommon.Resource {
	ra := &r.cfg.ResourceAttributes
	rb := metadata.NewResourceBuilder(*ra)
	rb.SetContainerID(c.ID)
	setNonEmpty(rb.SetContainerName, c.Name)
	img := imageref.Parse(c.Image)
	setNonEmpty(rb.SetContainerImageName, img.Name)
	if tags := img.Tags(); len(tags) > 0 {
		rb.SetContainerImageTags(anySlice(tags))
	}
	if digests := img.RepoDigests(); len(digests) > 0 {
		rb.SetContainerImageRepoDigests(anySlice(digests))
	}
	setNonEmpty(rb.SetContainerImageID, c.ImageID)
	setNonEmpty(rb.SetContainerHostname, c.Hostname)
	runtime := "docker"
	if e := r.engine.Load(); e != nil {
		runtime = e.runtime
		setNonEmpty(rb.SetContainerRuntimeVersion, e.version)
		setNonEmpty(rb.SetHostName, e.hostName)
		setNonEmpty(rb.SetHostID, e.hostID)
	}
	rb.SetContainerRuntimeName(runtime)
	if len(c.Command) > 0 {
		rb.SetContainerCommand(c.Command[0])
		rb.SetContainerCommandArgs(anySlice(c.Command))
		rb.SetContainerCommandLine(strings.Join(c.Command, " "))
	}
	if ra.ServiceName.Enabled || ra.ServiceNamespace.Enabled {
		// Reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES only.
		id := service.Resolve(c.Env, c.Labels, c.Name)
		setNonEmpty(rb.SetServiceName, id.Name)
		setNonEmpty(rb.SetServiceNamespace, id.Namespace)
	}
	res := rb.Emit()
	attrs := res.Attributes()
	r.labels.Each(c.Labels, func(key, attr, v string) {
		if _, renamed := r.cfg.LabelsToAttributes[key]; !renamed {
			attrs.PutStr(attr, v)
		}
	})
	for label, attr := range r.cfg.LabelsToAttributes {
		if v, ok := c.Labels[label]; ok {
			attrs.PutStr(attr, v)
		}
	}
	for env, attr := range r.cfg.EnvToAttributes {
		if v, ok := c.Env[env]; ok {
			attrs.PutStr(attr, v)
		}
	}
	return res
}

func setNonEmpty(set func(string), v string) {
	if v != "" {
		set(v)
	}
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func reportStatus(host component.Host, err error) {
	if err == nil {
		componentstatus.ReportStatus(host, componentstatus.NewEvent(componentstatus.StatusOK))
		return
	}
	componentstatus.ReportStatus(host, componentstatus.NewRecoverableErrorEvent(err))
}

// cursorMode holds the since semantics of the daemon last connected to; a
// daemon upgrade or downgrade changes it.
type cursorMode struct{ v atomic.Uint32 }

func (m *cursorMode) get() cursor.Mode  { return cursor.Mode(m.v.Load()) }
func (m *cursorMode) set(v cursor.Mode) { m.v.Store(uint32(v)) }
