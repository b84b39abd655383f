package fakedocker

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/moby/moby/api/types"
)

// Stream numbers as used by stdcopy frame headers.
const (
	Stdout = 1
	Stderr = 2
)

// StreamName is the name of stream s ("stdout" or "stderr") as the
// receiver writes it in the log.iostream attribute and seqcheck lines name
// it; 0 counts as Stdout, as in Entry.
func StreamName(s int) string {
	if s == Stderr {
		return "stderr"
	}
	return "stdout"
}

// DockerSplitSize is the size at which the daemon splits long lines into
// partial messages (16 KiB).
const DockerSplitSize = 16 * 1024

// TimestampLayout is the daemon's fixed-width timestamp format
// (jsonmessage.RFC3339NanoFixed); times are formatted in UTC.
const TimestampLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Entry is one log message as stored by the logging driver (one json-file
// record).
type Entry struct {
	// Time is the message timestamp; zero means "stamp automatically"
	// (strictly after the previous automatic stamp).
	Time time.Time
	// Stream is Stdout (1, also used when 0) or Stderr (2).
	Stream int
	// Text without the trailing '\n'.
	Text []byte
	// Partial marks a message that is not the end of a line: it is sent
	// without '\n' (Docker splits lines longer than 16 KiB into several
	// messages with the same Time; only the last one ends in '\n').
	Partial bool
}

// Write appends one log message to the container's log; live followers
// receive it in order.
func (d *Daemon) Write(id string, e Entry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.mustLocked("Write", id)
	if k == nil {
		return
	}
	d.appendLocked(k, e)
	k.wakeLocked()
}

// WriteEntries appends several messages atomically (followers see all or
// none of them at once).
func (d *Daemon) WriteEntries(id string, es ...Entry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.mustLocked("WriteEntries", id)
	if k == nil {
		return
	}
	for _, e := range es {
		d.appendLocked(k, e)
	}
	k.wakeLocked()
}

// WriteLines appends one complete message per text on the given stream with
// strictly increasing automatic timestamps, and returns those timestamps.
func (d *Daemon) WriteLines(id string, stream int, texts ...string) []time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.mustLocked("WriteLines", id)
	if k == nil {
		return nil
	}
	out := make([]time.Time, len(texts))
	for i, s := range texts {
		out[i] = d.appendLocked(k, Entry{Stream: stream, Text: []byte(s)})
	}
	k.wakeLocked()
	return out
}

// WriteSplit appends text the way the daemon stores a long line: chunks of
// size bytes (DockerSplitSize when size <= 0), all with the same automatic
// timestamp, every chunk but the last one Partial. It returns the timestamp.
func (d *Daemon) WriteSplit(id string, stream int, text string, size int) time.Time {
	if size <= 0 {
		size = DockerSplitSize
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.mustLocked("WriteSplit", id)
	if k == nil {
		return time.Time{}
	}
	ts := d.nextAutoLocked()
	b := []byte(text)
	for {
		n := min(size, len(b))
		d.appendLocked(k, Entry{Time: ts, Stream: stream, Text: b[:n], Partial: n < len(b)})
		b = b[n:]
		if len(b) == 0 {
			break
		}
	}
	k.wakeLocked()
	return ts
}

// Entries returns a copy of the container's stored log.
func (d *Daemon) Entries(id string) []Entry {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.mustLocked("Entries", id)
	if k == nil {
		return nil
	}
	out := make([]Entry, len(k.log))
	for i, e := range k.log {
		e.Text = slices.Clone(e.Text)
		out[i] = e
	}
	return out
}

// Forget drops the container's n oldest messages, as Docker deletes its
// oldest rotated log file.
func (d *Daemon) Forget(id string, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.mustLocked("Forget", id)
	if k == nil {
		return
	}
	n = min(n, len(k.log))
	k.log = slices.Clone(k.log[n:])
	k.forgot += n
}

func (d *Daemon) appendLocked(k *ctr, e Entry) time.Time {
	if e.Time.IsZero() {
		e.Time = d.nextAutoLocked()
	}
	if e.Stream == 0 {
		e.Stream = Stdout
	}
	e.Text = slices.Clone(e.Text)
	k.log = append(k.log, e)
	return e.Time
}

func (d *Daemon) nextAutoLocked() time.Time {
	t := d.now()
	if !t.After(d.lastAuto) {
		t = d.lastAuto.Add(time.Nanosecond)
	}
	d.lastAuto = t
	return t
}

// FormatLine returns the payload bytes the daemon sends for e (without the
// 8-byte stdcopy header): optional "TIMESTAMP " prefix, Text, and '\n' unless
// Partial. Useful for exact expectations in tests.
func FormatLine(e Entry, timestamps bool) []byte {
	var b []byte
	if timestamps {
		b = e.Time.UTC().AppendFormat(b, TimestampLayout)
		b = append(b, ' ')
	}
	b = append(b, e.Text...)
	if !e.Partial {
		b = append(b, '\n')
	}
	return b
}

// Frame returns one stdcopy frame: [stream,0,0,0,BE uint32 len] + payload.
func Frame(stream int, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	b[0] = byte(stream)
	binary.BigEndian.PutUint32(b[4:], uint32(len(payload)))
	return append(b, payload...)
}

type logOptions struct {
	stdout, stderr bool
	timestamps     bool
	details        bool
	follow         bool
	tail           int // < 0: all
	since, until   time.Time
	hasSince       bool
	hasUntil       bool
}

func parseLogOptions(q url.Values) (logOptions, error) {
	o := logOptions{
		stdout:     boolValue(q, "stdout"),
		stderr:     boolValue(q, "stderr"),
		timestamps: boolValue(q, "timestamps"),
		details:    boolValue(q, "details"),
		follow:     boolValue(q, "follow"),
		tail:       -1,
	}
	if t := q.Get("tail"); t != "" && t != "all" {
		if n, err := strconv.Atoi(t); err == nil { // the daemon treats garbage as "all"
			o.tail = n
		}
	}
	if s := q.Get("since"); s != "" {
		ts, err := parseTimestamp(s)
		if err != nil {
			return o, err
		}
		// The daemon ignores since == 0 (the Unix epoch).
		o.since, o.hasSince = ts, ts.UnixNano() != 0
	}
	if s := q.Get("until"); s != "" {
		ts, err := parseTimestamp(s)
		if err != nil {
			return o, err
		}
		o.until, o.hasUntil = ts, ts.UnixNano() != 0
	}
	return o, nil
}

// logsContentType mirrors the daemon: multiplexed-stream only for non-TTY
// containers on API >= 1.42, raw-stream otherwise (even when multiplexed).
func logsContentType(tty bool, apiVersion string) string {
	if !tty && !versionLess(apiVersion, "1.42") {
		return types.MediaTypeMultiplexedStream
	}
	return types.MediaTypeRawStream
}

func (d *Daemon) handleLogs(w http.ResponseWriter, r *http.Request, req Request, ref string) {
	d.mu.Lock()
	hook := d.logsFault
	d.mu.Unlock()
	if hook != nil {
		fw := d.newFaultWriter(w, r, req, faultLogs, func(w http.ResponseWriter) { d.serveLogs(w, r, req, ref) })
		fw.contentType = func() string {
			d.mu.Lock()
			defer d.mu.Unlock()
			tty := false
			if k := d.lookupLocked(ref); k != nil {
				tty = k.c.TTY
			}
			return logsContentType(tty, d.effectiveVersion(req))
		}
		defer fw.finish()
		if hook(req, fw) {
			return
		}
	}
	d.serveLogs(w, r, req, ref)
}

func (d *Daemon) serveLogs(w http.ResponseWriter, r *http.Request, req Request, ref string) {
	o, err := parseLogOptions(req.Query)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !o.stdout && !o.stderr {
		writeError(w, http.StatusBadRequest, "Bad parameters: you must choose at least one stream")
		return
	}
	d.mu.Lock()
	k := d.lookupLocked(ref)
	var c Container
	if k != nil {
		c = k.c
	}
	d.mu.Unlock()
	if k == nil {
		writeError(w, http.StatusNotFound, "No such container: "+ref)
		return
	}
	if logDriver(c) == "none" {
		writeError(w, http.StatusNotImplemented, "configured logging driver does not support reading")
		return
	}

	w.Header().Set("Content-Type", logsContentType(c.TTY, d.effectiveVersion(req)))
	w.WriteHeader(http.StatusOK)
	if flush(w) != nil {
		return
	}
	d.streamLogs(r.Context(), w, k, o, !c.TTY, attrsPrefix(c.LogAttrs))
}

// attrsPrefix renders log attributes like the daemon's details=1 output:
// sorted "k=v" pairs (query-escaped) joined by ','.
func attrsPrefix(attrs map[string]string) []byte {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, url.QueryEscape(k)...)
		b = append(b, '=')
		b = append(b, url.QueryEscape(attrs[k])...)
	}
	return b
}

// logFilter carries the per-request filtering state.
type logFilter struct {
	o     logOptions
	mode  SinceMode
	mux   bool
	attrs []byte
	buf   []byte
}

// next decides what to do with e: send it, skip it, or end the response
// (until reached).
func (f *logFilter) next(e Entry) (send, end bool) {
	if f.o.hasSince {
		if e.Time.Before(f.o.since) {
			return false, false
		}
		if f.mode == SincePrefix {
			// Docker >= 23: timestamps may go backwards, so after the first
			// message at/after since nothing more is filtered.
			f.o.hasSince = false
		}
	}
	if f.o.hasUntil && e.Time.After(f.o.until) {
		return false, true
	}
	if e.Stream == Stderr {
		return f.o.stderr, false
	}
	return f.o.stdout, false
}

func (f *logFilter) encode(e Entry) []byte {
	b := f.buf[:0]
	if f.mux {
		b = append(b, byte(e.Stream), 0, 0, 0, 0, 0, 0, 0)
	}
	start := len(b)
	if f.o.timestamps {
		b = e.Time.UTC().AppendFormat(b, TimestampLayout)
		b = append(b, ' ')
	}
	if f.o.details {
		b = append(b, f.attrs...)
		b = append(b, ' ')
	}
	b = append(b, e.Text...)
	if !e.Partial {
		b = append(b, '\n')
	}
	if f.mux {
		binary.BigEndian.PutUint32(b[4:8], uint32(len(b)-start))
	}
	f.buf = b
	return b
}

// send writes msgs one message (frame) per Write, flushing after each.
// It returns false when the response must end (write error or until).
func (f *logFilter) send(w http.ResponseWriter, msgs []Entry) bool {
	for _, e := range msgs {
		ok, end := f.next(e)
		if end {
			return false
		}
		if !ok {
			continue
		}
		if _, err := w.Write(f.encode(e)); err != nil {
			return false
		}
		if flush(w) != nil {
			return false
		}
	}
	return true
}

// streamLogs sends history (tail, then since/until) and, when following a
// running container, every later message until Stop/Remove, client gone or
// daemon Close. Followers keep an index into the container's append-only log,
// so nothing is lost or reordered and a slow client only blocks its own
// handler.
func (d *Daemon) streamLogs(ctx context.Context, w http.ResponseWriter, k *ctr, o logOptions, mux bool, attrs []byte) {
	f := &logFilter{o: o, mode: d.cfg.sinceMode, mux: mux, attrs: attrs}

	d.mu.Lock()
	hist := k.log
	start := 0
	if o.tail >= 0 && o.tail < len(hist) {
		start = len(hist) - o.tail
	}
	idx := k.forgot + len(hist) // followers count from the log's first message ever
	follow := o.follow && k.state == stateRunning && !k.removed
	stops := k.stops
	d.addStreamLocked(&d.logStreams, 1)
	d.mu.Unlock()
	defer d.addStream(&d.logStreams, -1)

	if !f.send(w, hist[start:]) || !follow {
		return
	}
	for {
		d.mu.Lock()
		// What Forget dropped before this follower sent it is skipped.
		batch := k.log[max(idx-k.forgot, 0):]
		idx = k.forgot + len(k.log)
		ended := k.stops != stops
		notify := k.notify
		d.mu.Unlock()
		if !f.send(w, batch) || ended {
			return
		}
		select {
		case <-notify:
		case <-ctx.Done():
			return
		}
	}
}
