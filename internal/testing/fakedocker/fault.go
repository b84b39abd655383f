package fakedocker

import (
	"context"
	"errors"
	"net/http"
)

// FaultFunc is a fault hook. It runs before the daemon serves a request; if it
// returns true the daemon does nothing more for that request (the hook has
// produced the response through w, or deliberately none). Returning false
// lets the request be served normally (w must then not have been used).
// Hooks run on the handler goroutine: they may block, but should also watch
// w.Context() so Close and client cancellation can end them.
type FaultFunc func(req Request, w *FaultWriter) bool

// SetLogsFault installs (nil removes) a hook for /containers/{id}/logs.
func (d *Daemon) SetLogsFault(f FaultFunc) {
	d.mu.Lock()
	d.logsFault = f
	d.mu.Unlock()
}

// SetEventsFault installs (nil removes) a hook for /events.
func (d *Daemon) SetEventsFault(f FaultFunc) {
	d.mu.Lock()
	d.eventsFault = f
	d.mu.Unlock()
}

// SetFault installs (nil removes) a hook run for every request, before
// routing (API version checks included). The endpoint-specific hooks still
// run afterwards when it returns false.
func (d *Daemon) SetFault(f FaultFunc) {
	d.mu.Lock()
	d.fault = f
	d.mu.Unlock()
}

type faultKind int

const (
	faultOther faultKind = iota
	faultLogs
	faultEvents
)

// FaultWriter lets a fault hook shape the response of one request.
type FaultWriter struct {
	d      *Daemon
	w      http.ResponseWriter
	r      *http.Request
	req    Request
	kind   faultKind
	normal func(http.ResponseWriter)
	// contentType is the default Content-Type for WriteRaw/WriteHeader.
	contentType func() string

	started bool // response headers sent (or connection taken over)
	opened  bool // counted in OpenLogStreams/OpenEventStreams
}

func (d *Daemon) newFaultWriter(w http.ResponseWriter, r *http.Request, req Request, kind faultKind, normal func(http.ResponseWriter)) *FaultWriter {
	fw := &FaultWriter{d: d, w: w, r: r, req: req, kind: kind, normal: normal}
	fw.contentType = func() string { return "application/json" }
	return fw
}

// Context is done when the client goes away or the daemon closes.
func (f *FaultWriter) Context() context.Context { return f.r.Context() }

// Request returns the request being served.
func (f *FaultWriter) Request() Request { return f.req }

// Header returns the response headers (set them before the first write).
func (f *FaultWriter) Header() http.Header { return f.w.Header() }

// Status answers with an API error: the given status code and a JSON body
// {"message": message}, as the daemon does.
func (f *FaultWriter) Status(code int, message string) {
	if f.started {
		return
	}
	f.started = true
	writeError(f.w, code, message)
}

// WriteHeader starts a response with the given status and the endpoint's
// usual Content-Type (unless one was set via Header), and flushes it.
func (f *FaultWriter) WriteHeader(code int) {
	if f.started {
		return
	}
	f.started = true
	if f.w.Header().Get("Content-Type") == "" {
		f.w.Header().Set("Content-Type", f.contentType())
	}
	f.w.WriteHeader(code)
	_ = flush(f.w)
}

// WriteRaw writes b as response body bytes (starting a 200 response with the
// endpoint's usual Content-Type if needed) and flushes. Use it for hand-made
// frames: truncated headers, bogus stream bytes, in-band errors, ...
// From the first WriteRaw on, the request counts as an open stream.
func (f *FaultWriter) WriteRaw(b []byte) error {
	f.WriteHeader(http.StatusOK)
	f.open()
	if _, err := f.w.Write(b); err != nil {
		return err
	}
	return flush(f.w)
}

// Hang blocks until the client goes away or the daemon closes, without
// sending anything more. Before any write it leaves the client waiting for
// response headers; after WriteRaw/WriteHeader it stalls the body. The
// request counts as an open stream while hanging.
func (f *FaultWriter) Hang() {
	f.open()
	<-f.r.Context().Done()
	if !f.started {
		// Returning from the handler would make net/http send an empty
		// 200; make sure nothing at all is sent instead.
		f.Drop()
	}
}

// Serve produces the normal response (e.g. after the hook waited for
// something); the hook should then return true.
func (f *FaultWriter) Serve() {
	if f.started {
		return
	}
	f.started = true
	f.normal(f.w)
}

// CutAfter serves the normal response but, once n body bytes have been sent
// (n == 0: right after the response headers), hijacks the connection and
// closes it abruptly: the client sees an unexpected EOF in the middle of the
// (chunked) body, possibly mid-frame.
func (f *FaultWriter) CutAfter(n int) {
	if f.started {
		return
	}
	f.started = true
	cw := &cutWriter{w: f.w, limit: n}
	f.normal(cw)
	// The normal response ended before the limit (e.g. history only): cut
	// anyway so the client never sees a clean end of body.
	cw.cut()
}

// Drop hijacks the connection and closes it without sending any response.
func (f *FaultWriter) Drop() {
	if f.started {
		return
	}
	f.started = true
	if conn, _, err := http.NewResponseController(f.w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

func (f *FaultWriter) open() {
	if f.opened {
		return
	}
	switch f.kind {
	case faultLogs:
		f.d.addStream(&f.d.logStreams, 1)
	case faultEvents:
		f.d.addStream(&f.d.evStreams, 1)
	default:
		return
	}
	f.opened = true
}

func (f *FaultWriter) finish() {
	if !f.opened {
		return
	}
	f.opened = false
	switch f.kind {
	case faultLogs:
		f.d.addStream(&f.d.logStreams, -1)
	case faultEvents:
		f.d.addStream(&f.d.evStreams, -1)
	}
}

var errCut = errors.New("fakedocker: connection cut by fault")

// cutWriter passes the first limit body bytes through, then hijacks and
// closes the connection.
type cutWriter struct {
	w           http.ResponseWriter
	limit, n    int
	wroteHeader bool
	done        bool
}

func (c *cutWriter) Header() http.Header { return c.w.Header() }

func (c *cutWriter) WriteHeader(code int) {
	if c.done || c.wroteHeader {
		return
	}
	c.wroteHeader = true
	c.w.WriteHeader(code)
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.done {
		return 0, errCut
	}
	c.WriteHeader(http.StatusOK)
	room := c.limit - c.n
	if len(p) < room {
		n, err := c.w.Write(p)
		c.n += n
		return n, err
	}
	n, err := c.w.Write(p[:room])
	c.n += n
	c.cut()
	if err == nil && n < len(p) {
		err = errCut
	}
	return n, err
}

// FlushError is used by http.ResponseController.
func (c *cutWriter) FlushError() error {
	if c.done {
		return errCut
	}
	err := http.NewResponseController(c.w).Flush()
	if c.wroteHeader && c.n >= c.limit {
		c.cut()
		return errCut
	}
	return err
}

func (c *cutWriter) cut() {
	if c.done {
		return
	}
	c.done = true
	c.ensureHeader()
	rc := http.NewResponseController(c.w)
	_ = rc.Flush() // push buffered body bytes to the socket before hijacking
	if conn, _, err := rc.Hijack(); err == nil {
		_ = conn.Close()
	}
}

// ensureHeader makes sure the status line went out before a cut.
func (c *cutWriter) ensureHeader() {
	if !c.wroteHeader {
		c.wroteHeader = true
		c.w.WriteHeader(http.StatusOK)
	}
}
