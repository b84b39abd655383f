package multiline

import (
	"bytes"
)

// phase is where auto mode is inside a stack trace. The zero value is
// "no trace"; each language's phases follow the shape of its traces.
type phase uint8

const (
	noTrace phase = iota

	// An exception line followed by "at" frames: Java, JavaScript, .NET.
	frameHeader // the exception line; frames (or its message's indented lines) follow
	frameBody   // frames seen
	frameProps  // a Node.js error's "{ code: ... }" block after its last frame
	frameBlank  // a blank line after the frames: Node's "Node.js vX" may follow

	// Node.js's report of an uncaught error: "file.js:10", the source line,
	// a caret line, maybe a blank, then the error and its frames.
	nodeCode
	nodeCaret
	nodeError
	nodeErrorAfterBlank

	// Python: "Traceback ...", indented frames, the exception line, and
	// chained tracebacks separated by a blank line, a sentence, a blank line.
	pyFrames
	pyEnd
	pyChain
	pyChainEnd
	pyNext
	pyGroup // Python 3.11+ exception groups: every line indented, under "  + Exception Group Traceback"

	// Go: "panic:" or "fatal error:", then goroutine blocks separated by
	// blank lines, maybe "exit status N".
	goHeader
	goBlank
	goStack

	// Ruby: "file.rb:3:in 'm': message (Class)" then "\tfrom" lines.
	rubyFrames
)

// start decides whether a line with nothing pending may begin a trace, and
// in which phase. A line that only continues traces (a stray frame, as after
// a max_lines flush) begins one too, so that the rest of the trace stays together.
func start(b []byte) (phase, bool) {
	if len(b) == 0 {
		return noTrace, false
	}
	// Ordinary lines must pass cheaply: dispatch on the first byte.
	switch b[0] {
	case ' ', '\t':
		switch {
		case bytes.HasPrefix(b, pyFile):
			return pyFrames, true
		case bytes.HasPrefix(trimIndent(b), pyGroupHeader):
			return pyGroup, true
		case isGoFileLine(b):
			return goStack, true
		case isAtFrame(b):
			return frameBody, true
		}
		return noTrace, false
	case 'T':
		if bytes.HasPrefix(b, pyTraceback) {
			return pyFrames, true
		}
	case 'p', 'f':
		if bytes.HasPrefix(b, goPanic) || bytes.HasPrefix(b, goFatal) {
			return goHeader, true
		}
	case 'g':
		if isGoroutine(b) {
			return goStack, true
		}
	}
	switch {
	case isRubyHeader(b):
		return rubyFrames, true
	case isNodeSource(b):
		return nodeCode, true
	case isExceptionHeader(b):
		return frameHeader, true
	}
	return noTrace, false
}

// next decides what line b does to a trace in phase p.
func next(p phase, b []byte) (verdict, phase) {
	blank := len(b) == 0
	indented := !blank && (b[0] == ' ' || b[0] == '\t')
	switch p {
	case frameHeader, frameBody:
		switch {
		case blank:
			return maybe, frameBlank
		case isAtFrame(b):
			if bytes.HasSuffix(b, []byte(" {")) {
				return absorb, frameProps
			}
			return absorb, frameBody
		case isCauseHeader(b):
			return absorb, frameHeader // a cause's own message and frames follow
		case isFrameExtra(b):
			return absorb, frameBody
		case p == frameHeader && indented:
			return absorb, frameHeader // a multi-line message
		}
	case frameProps:
		if indented {
			return absorb, frameProps
		}
		if len(b) == 1 && b[0] == '}' {
			return absorb, frameBody
		}
	case frameBlank:
		if bytes.HasPrefix(b, []byte("Node.js v")) {
			return last, noTrace
		}
	case nodeCode:
		if !blank {
			return absorb, nodeCaret
		}
	case nodeCaret:
		if isCaret(b) {
			return absorb, nodeError
		}
	case nodeError, nodeErrorAfterBlank:
		if blank && p == nodeError {
			return maybe, nodeErrorAfterBlank
		}
		if !blank && !indented {
			return absorb, frameHeader
		}
	case pyFrames:
		switch {
		case indented:
			return absorb, pyFrames
		case !blank:
			return absorb, pyEnd // the exception line
		}
	case pyEnd:
		if blank {
			return maybe, pyChain
		}
	case pyChain:
		if bytes.Equal(b, pyDuring) || bytes.Equal(b, pyCause) {
			return absorb, pyChainEnd
		}
	case pyChainEnd:
		if blank {
			return maybe, pyNext
		}
	case pyNext:
		if bytes.HasPrefix(b, pyTraceback) {
			return absorb, pyFrames
		}
	case pyGroup:
		if indented {
			return absorb, pyGroup
		}
	case goHeader:
		switch {
		case blank:
			return maybe, goBlank
		case bytes.HasPrefix(b, []byte("[signal ")), bytes.HasPrefix(b, []byte("\tpanic: ")),
			bytes.HasPrefix(b, goPanic), bytes.HasPrefix(b, goFatal):
			return absorb, goHeader
		case isGoroutine(b):
			return absorb, goStack
		}
	case goBlank:
		switch {
		case isGoroutine(b), bytes.Equal(b, []byte("runtime stack:")):
			return absorb, goStack
		case bytes.HasPrefix(b, goExit):
			return last, noTrace
		}
	case goStack:
		switch {
		case blank:
			return maybe, goBlank
		case bytes.HasPrefix(b, goExit):
			return last, noTrace
		case indented, isGoFunc(b), isGoroutine(b),
			bytes.HasPrefix(b, []byte("created by ")), bytes.HasPrefix(b, []byte("...additional frames elided...")):
			return absorb, goStack
		}
	case rubyFrames:
		t := trimIndent(b)
		if indented && (bytes.HasPrefix(t, []byte("from ")) || bytes.HasPrefix(t, []byte("... "))) || isRubyHeader(b) {
			return absorb, rubyFrames // a "from" line, "... N levels...", or the cause's header
		}
	}
	return reject, noTrace
}

var (
	pyTraceback   = []byte("Traceback (most recent call last):")
	pyFile        = []byte(`  File "`)
	pyGroupHeader = []byte("+ Exception Group Traceback (most recent call last):")
	pyDuring      = []byte("During handling of the above exception, another exception occurred:")
	pyCause       = []byte("The above exception was the direct cause of the following exception:")
	goPanic       = []byte("panic: ")
	goFatal       = []byte("fatal error: ")
	goExit        = []byte("exit status ")
)

// isAtFrame matches an indented "at ..." frame: Java, JavaScript and .NET
// print their frames so.
func isAtFrame(b []byte) bool {
	t := trimIndent(b)
	return len(t) < len(b) && len(t) > 3 && t[0] == 'a' && t[1] == 't' && t[2] == ' ' && t[3] != ' '
}

// isCauseHeader matches the header of a nested exception: Java's causes and
// suppressed exceptions, .NET's inner exceptions.
func isCauseHeader(b []byte) bool {
	t := trimIndent(b)
	return bytes.HasPrefix(t, []byte("Caused by: ")) || bytes.HasPrefix(t, []byte("Suppressed: ")) || bytes.HasPrefix(t, []byte("---> "))
}

// isFrameExtra matches other lines between frames: Java's elisions
// ("... 4 more", "... 3 common frames omitted"), .NET's boundaries and
// "File name:", and Node's hint after a thrown non-error.
func isFrameExtra(b []byte) bool {
	t := trimIndent(b)
	for _, p := range frameExtras {
		if bytes.HasPrefix(t, p) {
			return true
		}
	}
	return len(t) > 4 && bytes.HasPrefix(t, []byte("... ")) && isDigit(t[4])
}

var frameExtras = [][]byte{[]byte("--- End of "), []byte("File name: "), []byte("(Use `node ")}

// isExceptionHeader matches the line that names an exception: Java's
// uncaught "Exception in thread", .NET's "Unhandled exception.", a cause,
// or a (qualified) name ending in Exception, Error, Throwable, Failure or
// Fault, alone or followed by ": message" (Node adds " [CODE]").
func isExceptionHeader(b []byte) bool {
	if b[0] < 'A' || b[0] > 'z' { // no prefix or name starts otherwise; spares the scans below
		return false
	}
	for _, p := range headerPrefixes {
		if bytes.HasPrefix(b, p) {
			return true
		}
	}
	i := 0
	seg := 0 // start of the name's last segment
	for i < len(b) && isNameByte(b[i]) {
		if b[i] == '.' || b[i] == '$' || b[i] == '+' {
			seg = i + 1
		}
		i++
	}
	name := b[seg:i]
	if len(name) == 0 || name[0] < 'A' || name[0] > 'Z' || !hasExceptionSuffix(name) {
		return false
	}
	rest := b[i:]
	if bytes.HasPrefix(rest, []byte(" [")) { // Node: "Error [ERR_X]: message"
		end := bytes.IndexByte(rest, ']')
		if end < 0 {
			return false
		}
		rest = rest[end+1:]
	}
	return len(rest) == 0 || bytes.HasPrefix(rest, []byte(": ")) || len(rest) == 1 && rest[0] == ':'
}

var headerPrefixes = [][]byte{
	[]byte(`Exception in thread "`), []byte("Unhandled exception. "), []byte("Unhandled Exception: "), []byte("Caused by: "),
}

func hasExceptionSuffix(name []byte) bool {
	for _, s := range exceptionSuffixes {
		if bytes.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

var exceptionSuffixes = [][]byte{[]byte("Exception"), []byte("Error"), []byte("Throwable"), []byte("Failure"), []byte("Fault")}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_' || c == '$' || c == '.' || c == '+'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isGoroutine matches "goroutine 1 [running]:" (and newer forms with
// "gp=... m=..." before the bracket).
func isGoroutine(b []byte) bool {
	return len(b) > 12 && bytes.HasPrefix(b, []byte("goroutine ")) && isDigit(b[10]) && bytes.HasSuffix(b, []byte("]:"))
}

// isGoFileLine matches a frame's location line: "\t/src/main.go:12 +0x1d".
func isGoFileLine(b []byte) bool {
	return len(b) > 1 && b[0] == '\t' && b[1] != '\t' && bytes.Contains(b, []byte(".go:"))
}

// isGoFunc matches a frame's function line: "main.main()",
// "main.(*T).M(0xc000010000, {0x4b2f3a, 0x5})".
func isGoFunc(b []byte) bool {
	return len(b) > 2 && b[0] != ' ' && b[0] != '\t' && b[len(b)-1] == ')' && bytes.IndexByte(b, '(') > 0
}

// isRubyHeader matches "app.rb:3:in 'm': message (RuntimeError)" (Ruby
// 3.4 quotes) or with a backquote (before 3.4).
func isRubyHeader(b []byte) bool {
	if len(b) == 0 || b[len(b)-1] != ')' {
		return false
	}
	sp := bytes.IndexByte(b, ' ')
	if sp < 0 || !bytes.HasSuffix(b[:sp], []byte(":in")) || sp+1 >= len(b) || (b[sp+1] != '\'' && b[sp+1] != '`') {
		return false
	}
	loc := b[:sp-len(":in")] // "app.rb:3"
	colon := bytes.LastIndexByte(loc, ':')
	return colon > 0 && colon < len(loc)-1 && allDigits(loc[colon+1:])
}

// isNodeSource matches the first line of Node's uncaught-error report, the
// location of the throw: "/app/server.js:10", "node:internal/x:288".
func isNodeSource(b []byte) bool {
	if len(b) < 4 || !isDigit(b[len(b)-1]) || bytes.IndexByte(b, ' ') >= 0 {
		return false
	}
	colon := bytes.LastIndexByte(b, ':')
	if colon <= 0 || !allDigits(b[colon+1:]) {
		return false
	}
	file := b[:colon]
	if bytes.HasPrefix(file, []byte("node:")) {
		return true
	}
	for _, ext := range nodeExts {
		if bytes.HasSuffix(file, ext) {
			return true
		}
	}
	return false
}

var nodeExts = [][]byte{[]byte(".js"), []byte(".mjs"), []byte(".cjs"), []byte(".ts"), []byte(".jsx"), []byte(".tsx")}

// isCaret matches the line under the source line that points at the throw.
func isCaret(b []byte) bool {
	t := trimIndent(b)
	if len(t) == 0 {
		return false
	}
	for _, c := range t {
		if c != '^' && c != '~' && c != ' ' {
			return false
		}
	}
	return true
}

// trimIndent drops leading spaces and tabs.
func trimIndent(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return len(b) > 0
}
