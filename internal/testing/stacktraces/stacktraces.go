// Package stacktraces holds stack traces of six languages (Java, Python, Go,
// Node.js, Ruby, .NET) as the programs print them, and the plan of what
// loggen -traces writes: the traces interleaved with ordinary lines, per
// stream. Tests derive the records they expect from the same plan, so the
// container's output and the expectation cannot drift apart.
//
// The traces are the ones of internal/multiline's auto-mode fixture
// (testdata/auto.txt), one file each under traces/; this package's tests
// check that auto mode groups each of them, and every plan, as expected.
package stacktraces // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/stacktraces"

import (
	"embed"
	"fmt"
	"path"
	"strings"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/seqcheck"
)

//go:embed traces/*.txt
var files embed.FS

// Trace is one stack trace.
type Trace struct {
	// Name is the file name without its number and extension:
	// "java-caused-by"; its first word is the language.
	Name string
	// Lines as printed, without line endings (blank lines are "").
	Lines []string
}

// Lang is the trace's language: java, python, go, node, ruby or dotnet.
func (t Trace) Lang() string {
	lang, _, _ := strings.Cut(t.Name, "-")
	return lang
}

// Text is the lines joined with "\n": the body of the trace's record.
func (t Trace) Text() string { return strings.Join(t.Lines, "\n") }

var all = load()

func load() []Trace {
	ents, err := files.ReadDir("traces")
	if err != nil {
		panic(err)
	}
	var out []Trace
	for _, e := range ents { // sorted by name: the number prefix orders them
		b, err := files.ReadFile(path.Join("traces", e.Name()))
		if err != nil {
			panic(err)
		}
		name := strings.TrimSuffix(e.Name(), ".txt")
		if _, rest, ok := strings.Cut(name, "-"); ok {
			name = rest
		}
		out = append(out, Trace{Name: name, Lines: strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")})
	}
	return out
}

// All returns the traces, two of each language, in a fixed order.
func All() []Trace {
	out := make([]Trace, len(all))
	for i, t := range all {
		out[i] = Trace{Name: t.Name, Lines: append([]string(nil), t.Lines...)}
	}
	return out
}

// Deep is a Java StackOverflowError with frames "at" lines: a JVM prints at
// most 1024 of them (-XX:MaxJavaStackTraceDepth), more than the default
// max_lines of 1000.
func Deep(frames int) Trace {
	t := Trace{Name: "java-deep", Lines: []string{`Exception in thread "main" java.lang.StackOverflowError`}}
	for i := range frames {
		t.Lines = append(t.Lines, fmt.Sprintf("\tat com.example.tree.Node.depth(Node.java:%d)", 40+i%3))
	}
	return t
}

// Record is one record of a plan: a trace, or an ordinary line (Trace "").
type Record struct {
	Trace string
	Lines []string
}

// Text is the record's body.
func (r Record) Text() string { return strings.Join(r.Lines, "\n") }

// Options shape a plan.
type Options struct {
	// Rounds of all traces per stream.
	Rounds int
	// Deep, when positive, adds Deep(Deep) once after the rounds.
	Deep int
	// LineSize is the payload size of the ordinary lines (seqcheck format).
	LineSize int
}

// Plan is what loggen -traces writes on one stream, record by record: each
// trace preceded by an ordinary line (seqcheck.Format(src, stream, seq,
// LineSize): seq counts the stream's ordinary lines from 1), and one more
// ordinary line at the very end of a plan only when it has no trace.
// stderr starts its rounds at the middle of All(), so that the two streams
// write traces of different languages at the same time.
//
// Every plan ends with a trace that only a following line, the flush
// timeout or the end of the container's run can end (the last traces of
// both streams, dotnet-timeout and go-fatal, have no closing line).
func Plan(src, stream string, o Options) []Record {
	ts := all
	if stream == "stderr" {
		ts = append(append([]Trace(nil), all[len(all)/2:]...), all[:len(all)/2]...)
	}
	var out []Record
	seq := 0
	ordinary := func() {
		seq++
		out = append(out, Record{Lines: []string{seqcheck.Format(src, stream, seq, o.LineSize, false)}})
	}
	add := func(t Trace) {
		ordinary()
		out = append(out, Record{Trace: t.Name, Lines: t.Lines})
	}
	for range o.Rounds {
		for _, t := range ts {
			add(t)
		}
	}
	if o.Deep > 0 {
		add(Deep(o.Deep))
	}
	if len(out) == 0 {
		ordinary()
	}
	return out
}

// Lines flattens records into the lines a program writes.
func Lines(recs []Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Lines...)
	}
	return out
}
