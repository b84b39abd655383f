package lifecycle

import (
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/events"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Event names of the records: "docker.container." and the daemon's action,
// as contrib's dockerstats receiver names them, except that every health
// change is one name (the status is an attribute).
const (
	EventStart        = "docker.container.start"
	EventDie          = "docker.container.die"
	EventOOM          = "docker.container.oom"
	EventKill         = "docker.container.kill"
	EventHealthStatus = "docker.container.health_status"
	EventRestart      = "docker.container.restart"
)

// Record attributes besides event.name.
const (
	// AttrExitCode is the exit code of the container's process (die); the
	// semantic conventions' process attribute.
	AttrExitCode = "process.exit.code"
	// AttrSignal is the signal number sent (kill); no convention exists.
	AttrSignal = "docker.container.signal"
	// AttrHealthStatus is the new health status (health_status):
	// "healthy" or "unhealthy"; no convention exists.
	AttrHealthStatus = "docker.container.health.status"
	// attrEventName repeats the record's EventName, as contrib's
	// dockerstats receiver sets it, for queries written against it.
	attrEventName = "event.name"
)

const healthPrefix = "health_status: "

// actions are the event filter values the watcher subscribes with: the
// emitted ones, and rename and destroy, which only keep the container
// cache right. health_status matches "health_status: healthy" and the
// like as a prefix (the daemon's filter does so for this value).
var actions = []string{"start", "die", "oom", "kill", "health_status", "restart", "rename", "destroy"}

// eventName is the name of the record an action becomes; false for the
// actions that become none.
func eventName(a events.Action) (string, bool) {
	switch {
	case a == events.ActionStart:
		return EventStart, true
	case a == events.ActionDie:
		return EventDie, true
	case a == events.ActionOOM:
		return EventOOM, true
	case a == events.ActionKill:
		return EventKill, true
	case a == events.ActionRestart:
		return EventRestart, true
	case strings.HasPrefix(string(a), healthPrefix):
		return EventHealthStatus, true
	}
	return "", false
}

// fill writes the record of event m, named name, of the container called
// container: timestamp, event name, severity, a one-line body and the
// event's attributes.
func fill(lr plog.LogRecord, m events.Message, name, container string, observed pcommon.Timestamp) {
	lr.SetTimestamp(pcommon.Timestamp(m.TimeNano))
	lr.SetObservedTimestamp(observed)
	lr.SetEventName(name)
	attrs := lr.Attributes()
	attrs.PutStr(attrEventName, name)
	a := m.Actor.Attributes
	sev, body := plog.SeverityNumberInfo, ""
	switch name {
	case EventStart:
		body = "container " + container + " started"
	case EventDie:
		body = "container " + container + " exited"
		if code, err := strconv.Atoi(a["exitCode"]); err == nil {
			attrs.PutInt(AttrExitCode, int64(code))
			body += " with code " + strconv.Itoa(code)
			if code != 0 {
				sev = plog.SeverityNumberWarn
			}
		}
	case EventOOM:
		sev, body = plog.SeverityNumberError, "container "+container+" ran out of memory (the kernel's OOM killer was invoked)"
	case EventKill:
		body = "container " + container + " was sent a signal"
		if sig, err := strconv.Atoi(a["signal"]); err == nil {
			attrs.PutInt(AttrSignal, int64(sig))
			body = "container " + container + " was sent signal " + strconv.Itoa(sig)
			if n := signalName(sig); n != "" {
				body += " (" + n + ")"
			}
		}
	case EventHealthStatus:
		status := strings.TrimPrefix(string(m.Action), healthPrefix)
		attrs.PutStr(AttrHealthStatus, status)
		body = "container " + container + " is " + status
		if status == "unhealthy" {
			sev = plog.SeverityNumberWarn
		}
	case EventRestart:
		body = "container " + container + " was restarted"
	}
	lr.SetSeverityNumber(sev)
	lr.SetSeverityText(severityText[sev])
	lr.Body().SetStr(body)
}

var severityText = map[plog.SeverityNumber]string{
	plog.SeverityNumberInfo:  "INFO",
	plog.SeverityNumberWarn:  "WARN",
	plog.SeverityNumberError: "ERROR",
}

// linuxSignals names the signals by their Linux numbers (the daemon sends
// the number): index n-1 is signal n.
var linuxSignals = [...]string{
	"SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
	"SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
	"SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
	"SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
}

func signalName(n int) string {
	if n < 1 || n > len(linuxSignals) {
		return ""
	}
	return linuxSignals[n-1]
}
