// Package multiline groups consecutive log lines of one stream into one
// record: lines that continue a record by a configured pattern, or stack
// traces recognised in auto mode (Java, Python, Go, Node.js, Ruby, .NET).
//
// It is pure logic: no Docker, no pdata, no clock. The caller owns one
// Grouper per stream (stdout and stderr never merge), feeds it whole lines
// (after 16 KiB partial-line assembly) and passes in times where a decision
// depends on them.
//
// Given the same lines from the same starting point, a Grouper emits the
// same records, and a group always starts from a Grouper's fresh state: a
// new Grouper fed the lines from the first line of a pending group rebuilds
// that group exactly. That is what a resume after a reopen relies on.
//
// For exactly-once reading the caller keeps its resume point at or before
// the first line of every pending group: held lines are not emitted yet,
// and a reopened stream replays them into a fresh Grouper. A flush by
// timeout depends on the clock, not the lines, so a replay may group the
// lines after it differently; a caller that skips replayed lines by count
// should count input lines per stream (Record.Lines), not records.
package multiline // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/multiline"

import (
	"fmt"
	"regexp"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/line"
)

// ModeAuto recognises stack traces without a pattern.
const ModeAuto = "auto"

// Defaults for the limits left at zero.
const (
	DefaultFlushTimeout = time.Second
	DefaultMaxLines     = 1000
)

// Config is the receiver's multiline section. At most one of
// LineStartPattern, LineEndPattern and Mode may be set; none means off.
type Config struct {
	// LineStartPattern matches the first line of a record; other lines
	// continue the record before them.
	LineStartPattern string `mapstructure:"line_start_pattern"`
	// LineEndPattern matches the last line of a record.
	LineEndPattern string `mapstructure:"line_end_pattern"`
	// Mode "auto" groups stack traces and passes other lines through.
	Mode string `mapstructure:"mode"`
	// FlushTimeout emits a pending record when no line continued it for
	// this long (0: DefaultFlushTimeout). A line stamped this much later
	// than the record's last line does not continue it either.
	FlushTimeout time.Duration `mapstructure:"flush_timeout"`
	// MaxLines emits a record once it holds this many lines (0: DefaultMaxLines).
	MaxLines int `mapstructure:"max_lines"`
	// MaxBytes caps a record's body (<= 0: line.DefaultMaxSize); the
	// receiver sets it from max_log_size.
	MaxBytes int `mapstructure:"-"`
}

// Enabled reports whether grouping is configured. When it is not, the
// caller should not create Groupers at all (off is free).
func (c Config) Enabled() bool {
	return c.LineStartPattern != "" || c.LineEndPattern != "" || c.Mode != ""
}

// Compile checks the configuration and prepares the rules its Groupers
// share. It returns nil rules and no error when grouping is off. An error
// starts with the name of the offending key ("line_start_pattern: ..."),
// for the caller to put the key's path in front.
//
// Config has no Validate method on purpose: the collector's config
// validation calls Validate on every nested struct, so a receiver that
// embeds Config would report each error once more under a path of its own.
func (c Config) Compile() (*Rules, error) {
	if !c.Enabled() {
		return nil, nil
	}
	set := ""
	for _, k := range []struct{ key, v string }{{"line_start_pattern", c.LineStartPattern}, {"line_end_pattern", c.LineEndPattern}, {"mode", c.Mode}} {
		if k.v == "" {
			continue
		}
		if set != "" {
			return nil, fmt.Errorf("%s: set only one of line_start_pattern, line_end_pattern and mode (%s is set too)", k.key, set)
		}
		set = k.key
	}
	if c.Mode != "" && c.Mode != ModeAuto {
		return nil, fmt.Errorf("mode: %q is not supported (only %q)", c.Mode, ModeAuto)
	}
	if c.FlushTimeout < 0 {
		return nil, fmt.Errorf("flush_timeout: must not be negative, got %v", c.FlushTimeout)
	}
	if c.MaxLines < 0 {
		return nil, fmt.Errorf("max_lines: must not be negative, got %d", c.MaxLines)
	}
	r := &Rules{flushTimeout: c.FlushTimeout, maxLines: c.MaxLines, maxBytes: c.MaxBytes}
	if r.flushTimeout == 0 {
		r.flushTimeout = DefaultFlushTimeout
	}
	if r.maxLines == 0 {
		r.maxLines = DefaultMaxLines
	}
	if r.maxBytes <= 0 {
		r.maxBytes = line.DefaultMaxSize
	}
	var err error
	switch {
	case c.LineStartPattern != "":
		r.mode = startMode
		if r.pattern, err = regexp.Compile(c.LineStartPattern); err != nil {
			return nil, fmt.Errorf("line_start_pattern: %w", err)
		}
	case c.LineEndPattern != "":
		r.mode = endMode
		if r.pattern, err = regexp.Compile(c.LineEndPattern); err != nil {
			return nil, fmt.Errorf("line_end_pattern: %w", err)
		}
	default:
		r.mode = autoMode
	}
	return r, nil
}

type mode uint8

const (
	startMode mode = iota
	endMode
	autoMode
)

// Rules are a compiled Config. They are read-only and shared by all the
// Groupers made from them, across goroutines.
type Rules struct {
	mode         mode
	pattern      *regexp.Regexp
	flushTimeout time.Duration
	maxLines     int
	maxBytes     int
}

// FlushTimeout is the effective flush timeout.
func (r *Rules) FlushTimeout() time.Duration { return r.flushTimeout }

// NewGrouper returns an empty Grouper for one stream.
func (r *Rules) NewGrouper() *Grouper { return &Grouper{rules: r} }
