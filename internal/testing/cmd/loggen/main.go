// Command loggen writes self-verifying log lines (see
// internal/testing/seqcheck) to stdout and/or stderr. It is built static
// (CGO_ENABLED=0) and runs as PID 1 of a FROM scratch test image.
//
//	loggen -src web-1 -n 1000 -streams both -sizes 100,16385 -utf8 -then sleep
//
// With -streams both the streams are interleaved line by line (stdout 1,
// stderr 1, stdout 2, ...), each with its own seq 1..n. With -empty-every N an
// empty line follows every line whose seq is a multiple of N, on the same
// stream (n/N per stream). SIGTERM or SIGINT stops it promptly after the
// line being written, with exit code 0.
//
// With -traces N it writes stack traces instead
// (internal/testing/stacktraces): on each stream N rounds of the twelve
// traces of six languages, every trace after an ordinary seqcheck line (-size
// bytes of payload), and with -deep F one Java trace of F frames after them.
// The streams are interleaved line by line as above, so a stdout trace and a
// stderr trace are written at the same time. -pause-after L stops once each
// stream wrote L lines (a test picks L inside a trace) until SIGUSR1.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/stacktraces"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	resume := make(chan struct{})
	go func() {
		<-usr1
		close(resume)
	}()
	code := RunResumable(ctx, os.Args[1:], os.Stdout, os.Stderr, resume)
	stop()
	os.Exit(code)
}

type config struct {
	src        string
	n          int
	streams    []string
	sizes      []int
	rate       float64
	charset    seqcheck.Charset
	emptyEvery int
	then       string
	startDelay time.Duration
	exitCode   int

	traces     int // rounds of stack traces; 0: seqcheck lines
	deep       int
	pauseAfter int
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loggen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.src, "src", "", "generator id written in every line (default: hostname, that is the short container id)")
	fs.IntVar(&c.n, "n", 10, "lines per stream")
	streams := fs.String("streams", "stdout", "stdout, stderr or both")
	size := fs.Int("size", 64, "payload bytes per line")
	sizes := fs.String("sizes", "", "comma-separated payload sizes, cycled by seq (overrides -size), e.g. 100,16385,102400")
	fs.Float64Var(&c.rate, "rate", 0, "lines per second, all streams together (0: as fast as possible); >0 flushes every line")
	utf8 := fs.Bool("utf8", false, "mix multi-byte UTF-8 runes into payloads, never across a 16 KiB split")
	split := fs.Bool("split-runes", false, "like -utf8 but put a multi-byte rune across every 16 KiB boundary of a line (json-file stores such runes as U+FFFD)")
	fs.IntVar(&c.emptyEvery, "empty-every", 0, "also write an empty line after every line whose seq is a multiple of N (0: never)")
	fs.StringVar(&c.then, "then", "exit", "after writing: exit, or sleep until SIGTERM/SIGINT (then exit 0)")
	fs.DurationVar(&c.startDelay, "start-delay", 0, "wait this long before writing")
	fs.IntVar(&c.exitCode, "exit-code", 0, "exit code of -then exit")
	fs.IntVar(&c.traces, "traces", 0, "write N rounds of stack traces of six languages per stream, each after an ordinary line of -size bytes of payload, instead of -n lines")
	fs.IntVar(&c.deep, "deep", 0, "with -traces: then a Java trace of N frames per stream")
	fs.IntVar(&c.pauseAfter, "pause-after", 0, "with -traces: once each stream wrote N lines, wait for SIGUSR1 before going on (0: never)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.src == "" {
		c.src, _ = os.Hostname()
		if !seqcheck.ValidToken(c.src) {
			c.src = "loggen"
		}
	}
	if !seqcheck.ValidToken(c.src) {
		return c, fmt.Errorf("-src %q: must be non-empty without spaces or control characters", c.src)
	}
	switch *streams {
	case "stdout", "stderr":
		c.streams = []string{*streams}
	case "both":
		c.streams = []string{"stdout", "stderr"}
	default:
		return c, fmt.Errorf("-streams %q: want stdout, stderr or both", *streams)
	}
	c.sizes = []int{*size}
	if *sizes != "" {
		c.sizes = c.sizes[:0]
		for _, f := range strings.Split(*sizes, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || v < 0 {
				return c, fmt.Errorf("-sizes %q: bad size %q", *sizes, f)
			}
			c.sizes = append(c.sizes, v)
		}
	}
	for _, v := range c.sizes {
		if v < 0 {
			return c, fmt.Errorf("negative size %d", v)
		}
	}
	switch {
	case *split:
		c.charset = seqcheck.UTF8Split
	case *utf8:
		c.charset = seqcheck.UTF8
	}
	if c.n < 0 || c.rate < 0 || c.emptyEvery < 0 || c.startDelay < 0 || c.traces < 0 || c.deep < 0 || c.pauseAfter < 0 {
		return c, fmt.Errorf("-n, -rate, -empty-every, -start-delay, -traces, -deep and -pause-after must not be negative")
	}
	if (c.deep > 0 || c.pauseAfter > 0) && c.traces == 0 {
		return c, fmt.Errorf("-deep and -pause-after go with -traces")
	}
	if c.then != "exit" && c.then != "sleep" {
		return c, fmt.Errorf("-then %q: want exit or sleep", c.then)
	}
	return c, nil
}

// Run is loggen's main logic: it writes to stdout and stderr as the flags in
// args say and returns the exit code. Ending ctx plays SIGTERM.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return RunResumable(ctx, args, stdout, stderr, nil)
}

// RunResumable is Run where closing resume plays SIGUSR1 (the end of a
// -pause-after pause); a nil resume never ends a pause.
func RunResumable(ctx context.Context, args []string, stdout, stderr io.Writer, resume <-chan struct{}) int {
	c, err := parseFlags(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "loggen:", err)
		return 2
	}
	var timer *time.Timer
	sleep := func(d time.Duration) bool { // false when ctx ended
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return false
		case <-timer.C:
			return true
		}
	}
	if c.startDelay > 0 && !sleep(c.startDelay) {
		return 0
	}
	w := write
	if c.traces > 0 {
		w = func(ctx context.Context, c config, stdout, stderr io.Writer, sleep func(time.Duration) bool) error {
			return writeTraces(ctx, c, stdout, stderr, sleep, resume)
		}
	}
	if err := w(ctx, c, stdout, stderr, sleep); err != nil {
		fmt.Fprintln(stderr, "loggen:", err)
		return 1
	}
	if ctx.Err() != nil || c.then == "sleep" {
		<-ctx.Done()
		return 0
	}
	return c.exitCode
}

func write(ctx context.Context, c config, stdout, stderr io.Writer, sleep func(time.Duration) bool) error {
	out := make([]*bufio.Writer, len(c.streams))
	for i, name := range c.streams {
		w := stdout
		if name == "stderr" {
			w = stderr
		}
		out[i] = bufio.NewWriterSize(w, 64<<10)
	}
	flush := func() error {
		for _, w := range out {
			if err := w.Flush(); err != nil {
				return err
			}
		}
		return nil
	}
	var interval time.Duration
	if c.rate > 0 {
		interval = time.Duration(float64(time.Second) / c.rate)
	}
	start := time.Now()
	done := ctx.Done()
	buf := make([]byte, 0, 256)
	written := 0
	for seq := 1; seq <= c.n; seq++ {
		size := c.sizes[(seq-1)%len(c.sizes)]
		for i, name := range c.streams {
			select {
			case <-done:
				return flush()
			default:
			}
			if interval > 0 {
				if d := time.Until(start.Add(time.Duration(written) * interval)); d > 0 && !sleep(d) {
					return flush()
				}
			}
			buf = seqcheck.AppendLine(buf[:0], c.src, name, seq, size, c.charset)
			buf = append(buf, '\n')
			if c.emptyEvery > 0 && seq%c.emptyEvery == 0 {
				buf = append(buf, '\n')
			}
			if _, err := out[i].Write(buf); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if interval > 0 {
				if err := out[i].Flush(); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			written++
		}
	}
	return flush()
}

// writeTraces writes the plans of -traces, line by line alternating between
// the streams.
func writeTraces(ctx context.Context, c config, stdout, stderr io.Writer, sleep func(time.Duration) bool, resume <-chan struct{}) error {
	var lines [][]string
	var out []*bufio.Writer
	longest := 0
	for _, name := range c.streams {
		w := stdout
		if name == "stderr" {
			w = stderr
		}
		out = append(out, bufio.NewWriterSize(w, 64<<10))
		ls := stacktraces.Lines(stacktraces.Plan(c.src, name, stacktraces.Options{Rounds: c.traces, Deep: c.deep, LineSize: c.sizes[0]}))
		lines = append(lines, ls)
		longest = max(longest, len(ls))
	}
	flush := func() error {
		for i, w := range out {
			if err := w.Flush(); err != nil {
				return fmt.Errorf("%s: %w", c.streams[i], err)
			}
		}
		return nil
	}
	var interval time.Duration
	if c.rate > 0 {
		interval = time.Duration(float64(time.Second) / c.rate)
	}
	start := time.Now()
	written := 0
	for n := range longest {
		if n > 0 && n == c.pauseAfter {
			if err := flush(); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return nil
			case <-resume:
			}
			start, written = time.Now(), 0
		}
		for i, ls := range lines {
			if n >= len(ls) {
				continue
			}
			if ctx.Err() != nil {
				return flush()
			}
			if interval > 0 {
				if d := time.Until(start.Add(time.Duration(written) * interval)); d > 0 && !sleep(d) {
					return flush()
				}
			}
			if _, err := out[i].WriteString(ls[n] + "\n"); err != nil {
				return fmt.Errorf("%s: %w", c.streams[i], err)
			}
			if interval > 0 {
				if err := out[i].Flush(); err != nil {
					return fmt.Errorf("%s: %w", c.streams[i], err)
				}
			}
			written++
		}
	}
	return flush()
}
