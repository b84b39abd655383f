package seqcheck

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"strings"
	"sync"
)

// MaxSeq is the largest seq the Checker tracks; larger ones count as corrupt.
const MaxSeq = 1 << 26

const maxSamples = 10

// Waiter blocks until everything expected has arrived.
type Waiter interface {
	// Wait returns nil once every expected line has arrived at least once,
	// or an error wrapping ctx.Err() (with a progress summary) when ctx ends.
	Wait(ctx context.Context) error
	// Done is closed while every expectation is met.
	Done() <-chan struct{}
}

var _ Waiter = (*Checker)(nil)

// Checker collects delivered lines per (container key, stream) and reports
// whether each expected line arrived exactly once and intact. The zero value
// is ready to use; all methods are safe for concurrent use.
type Checker struct {
	mu         sync.Mutex
	streams    map[streamKey]*state
	incomplete int           // streams whose expectation is not met yet
	done       chan struct{} // closed while incomplete == 0
	closed     bool
}

type streamKey struct{ key, stream string }

type state struct {
	expected, expectedEmpty int // -1: not set
	src                     string
	seen                    []uint64 // bitset of seqs received intact
	inRange                 int      // distinct seqs in [1, expected]
	received                int      // non-empty lines added
	unique, dups, corrupt   int
	misrouted, outOfOrder   int
	empty, maxSeq           int
	samples                 []string // first corrupt/misrouted lines, described
}

func (s *state) complete() bool {
	return (s.expected < 0 || s.inRange >= s.expected) &&
		(s.expectedEmpty < 0 || s.empty >= s.expectedEmpty)
}

func (s *state) has(seq int) bool {
	i := seq >> 6
	return i < len(s.seen) && s.seen[i]&(1<<(seq&63)) != 0
}

func (s *state) set(seq int) {
	i := seq >> 6
	if i >= len(s.seen) {
		s.seen = append(s.seen, make([]uint64, i+1-len(s.seen))...)
	}
	s.seen[i] |= 1 << (seq & 63)
}

// countUpTo returns the number of seqs in [1, n] seen.
func (s *state) countUpTo(n int) int {
	c := 0
	for i, w := range s.seen {
		lo := i << 6
		if lo > n {
			break
		}
		if n-lo < 63 {
			w &= 1<<(n-lo+1) - 1
		}
		c += bits.OnesCount64(w)
	}
	return c
}

func (s *state) sample(format string, a ...any) {
	if len(s.samples) < maxSamples {
		s.samples = append(s.samples, fmt.Sprintf(format, a...))
	}
}

// update runs f on the state of (key, stream) under the lock and keeps the
// completion bookkeeping and the Done channel right.
func (c *Checker) update(key, stream string, f func(*state)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.streams == nil {
		c.streams = make(map[streamKey]*state)
	}
	k := streamKey{key, stream}
	s := c.streams[k]
	if s == nil {
		s = &state{expected: -1, expectedEmpty: -1}
		c.streams[k] = s
	}
	was := s.complete()
	f(s)
	switch now := s.complete(); {
	case was && !now:
		c.incomplete++
	case !was && now:
		c.incomplete--
	}
	c.signalLocked()
}

func (c *Checker) signalLocked() {
	if c.done == nil {
		c.done = make(chan struct{})
	}
	switch {
	case c.incomplete == 0 && !c.closed:
		close(c.done)
		c.closed = true
	case c.incomplete > 0 && c.closed:
		c.done = make(chan struct{})
		c.closed = false
	}
}

// Expect declares that lines 1..n of stream of containerKey must arrive.
func (c *Checker) Expect(containerKey, stream string, n int) {
	c.update(containerKey, stream, func(s *state) {
		s.expected = n
		s.inRange = s.countUpTo(n)
	})
}

// ExpectEmpty declares that n empty lines must arrive on stream of
// containerKey. Without it, empty lines are counted but not checked.
func (c *Checker) ExpectEmpty(containerKey, stream string, n int) {
	c.update(containerKey, stream, func(s *state) { s.expectedEmpty = n })
}

// Add records one delivered log body (without its '\n'). An empty body counts
// as an empty line; anything else must parse and verify as a line of this
// package, come from the same src as the first line of that key and stream,
// and name the same stream.
func (c *Checker) Add(containerKey, stream string, body string) {
	if body == "" {
		c.update(containerKey, stream, func(s *state) { s.empty++ })
		return
	}
	l, err := Parse(body) // outside the lock: crc over the body
	c.update(containerKey, stream, func(s *state) {
		s.received++
		switch {
		case err != nil:
			s.corrupt++
			s.sample("corrupt: %v", err)
		case l.Seq > MaxSeq:
			s.corrupt++
			s.sample("corrupt: seq %d > MaxSeq", l.Seq)
		case l.Stream != stream || (s.src != "" && l.Src != s.src):
			s.misrouted++
			s.sample("misrouted: %s %s seq %d", l.Src, l.Stream, l.Seq)
		case s.has(l.Seq):
			s.src = l.Src
			s.dups++
		default:
			s.src = l.Src
			s.set(l.Seq)
			s.unique++
			if l.Seq < s.maxSeq {
				s.outOfOrder++
			}
			s.maxSeq = max(s.maxSeq, l.Seq)
			if l.Seq <= s.expected {
				s.inRange++
			}
		}
	})
}

// Done implements Waiter.
func (c *Checker) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.signalLocked()
	return c.done
}

// Wait implements Waiter. Call Expect before Wait: with nothing expected Wait
// returns at once.
func (c *Checker) Wait(ctx context.Context) error {
	select {
	case <-c.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("seqcheck: waiting for lines: %w\n%s", ctx.Err(), c.Report())
	}
}

// StreamReport is what arrived on one stream of one container key.
type StreamReport struct {
	Key, Stream string
	Src         string // src of the first intact line
	Expected    int    // -1 when Expect was not called
	Received    int    // non-empty lines added, whatever they were
	Unique      int    // distinct intact seqs
	Duplicates  int    // intact lines whose seq had arrived before
	Missing     int    // seqs in 1..Expected that never arrived intact
	MissingSeqs []int  // the first few of them
	Unexpected  int    // distinct seqs above Expected
	Corrupt     int    // lines that failed Parse
	Misrouted   int    // intact lines of another stream or src
	OutOfOrder  int    // first arrivals with a seq below one that came before
	Empty       int    // empty lines
	ExpectEmpty int    // -1 when ExpectEmpty was not called
	Samples     []string
}

// Report is a snapshot of all streams, sorted by key then stream.
type Report struct {
	Streams []StreamReport
}

// Report returns a snapshot of what arrived so far.
func (c *Checker) Report() Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := Report{Streams: make([]StreamReport, 0, len(c.streams))}
	for k, s := range c.streams {
		sr := StreamReport{
			Key: k.key, Stream: k.stream, Src: s.src, Expected: s.expected,
			Received: s.received, Unique: s.unique, Duplicates: s.dups,
			Corrupt: s.corrupt, Misrouted: s.misrouted, OutOfOrder: s.outOfOrder,
			Empty: s.empty, ExpectEmpty: s.expectedEmpty,
			Samples: append([]string(nil), s.samples...),
		}
		if s.expected >= 0 {
			sr.Missing = s.expected - s.inRange
			sr.Unexpected = s.unique - s.inRange
			for seq := 1; seq <= s.expected && len(sr.MissingSeqs) < maxSamples && len(sr.MissingSeqs) < sr.Missing; seq++ {
				if !s.has(seq) {
					sr.MissingSeqs = append(sr.MissingSeqs, seq)
				}
			}
		}
		r.Streams = append(r.Streams, sr)
	}
	sort.Slice(r.Streams, func(i, j int) bool {
		a, b := r.Streams[i], r.Streams[j]
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Stream < b.Stream
	})
	return r
}

// Stream returns the report of one key and stream.
func (r Report) Stream(key, stream string) (StreamReport, bool) {
	for _, s := range r.Streams {
		if s.Key == key && s.Stream == stream {
			return s, true
		}
	}
	return StreamReport{}, false
}

// problems lists why the stream is not exactly-once and intact.
func (s StreamReport) problems(ordered bool) []string {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if s.Expected < 0 && s.Received > 0 {
		add("%d lines received, none expected", s.Received)
	}
	if s.Missing > 0 {
		add("%d missing (first %v)", s.Missing, s.MissingSeqs)
	}
	if s.Duplicates > 0 {
		add("%d duplicates", s.Duplicates)
	}
	if s.Unexpected > 0 {
		add("%d seqs above %d", s.Unexpected, s.Expected)
	}
	if s.Corrupt > 0 {
		add("%d corrupt", s.Corrupt)
	}
	if s.Misrouted > 0 {
		add("%d misrouted", s.Misrouted)
	}
	if s.ExpectEmpty >= 0 && s.Empty != s.ExpectEmpty {
		add("%d empty lines, want %d", s.Empty, s.ExpectEmpty)
	}
	if ordered && s.OutOfOrder > 0 {
		add("%d out of order", s.OutOfOrder)
	}
	if len(p) > 0 && len(s.Samples) > 0 {
		add("samples: %s", strings.Join(s.Samples, " | "))
	}
	return p
}

func (r Report) err(ordered bool) error {
	var errs []error
	for _, s := range r.Streams {
		if p := s.problems(ordered); len(p) > 0 {
			errs = append(errs, fmt.Errorf("%s/%s: %s", s.Key, s.Stream, strings.Join(p, "; ")))
		}
	}
	return errors.Join(errs...)
}

// Err is nil iff every stream that received or expected lines got each
// expected line exactly once and intact, nothing else (no corrupt,
// misrouted or unexpected lines), and the expected number of empty lines.
// Order is not checked; see ErrInOrder.
func (r Report) Err() error { return r.err(false) }

// ErrInOrder is Err that also fails on lines that arrived out of order.
func (r Report) ErrInOrder() error { return r.err(true) }

func (s StreamReport) String() string {
	return fmt.Sprintf("%s/%s: expected %d received %d unique %d dup %d missing %d%v unexpected %d corrupt %d misrouted %d out-of-order %d empty %d",
		s.Key, s.Stream, s.Expected, s.Received, s.Unique, s.Duplicates, s.Missing, s.MissingSeqs,
		s.Unexpected, s.Corrupt, s.Misrouted, s.OutOfOrder, s.Empty)
}

func (r Report) String() string {
	var b strings.Builder
	for _, s := range r.Streams {
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	return b.String()
}
