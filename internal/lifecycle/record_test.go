package lifecycle

import (
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
)

func TestRecordOfEachEvent(t *testing.T) {
	const t0 = 1_700_000_000_123_456_789
	for _, tc := range []struct {
		action string
		attrs  map[string]string
		name   string
		sev    plog.SeverityNumber
		body   string
		extra  map[string]any
	}{
		{"start", nil, EventStart, plog.SeverityNumberInfo, "container web started", nil},
		{"die", map[string]string{"exitCode": "0"}, EventDie, plog.SeverityNumberInfo, "container web exited with code 0", map[string]any{AttrExitCode: int64(0)}},
		{"die", map[string]string{"exitCode": "3", "execDuration": "2"}, EventDie, plog.SeverityNumberWarn, "container web exited with code 3", map[string]any{AttrExitCode: int64(3)}},
		{"die", nil, EventDie, plog.SeverityNumberInfo, "container web exited", nil},
		{"oom", nil, EventOOM, plog.SeverityNumberError, "container web ran out of memory (the kernel's OOM killer was invoked)", nil},
		{"kill", map[string]string{"signal": "15"}, EventKill, plog.SeverityNumberInfo, "container web was sent signal 15 (SIGTERM)", map[string]any{AttrSignal: int64(15)}},
		{"kill", map[string]string{"signal": "64"}, EventKill, plog.SeverityNumberInfo, "container web was sent signal 64", map[string]any{AttrSignal: int64(64)}},
		{"health_status: healthy", nil, EventHealthStatus, plog.SeverityNumberInfo, "container web is healthy", map[string]any{AttrHealthStatus: "healthy"}},
		{"health_status: unhealthy", nil, EventHealthStatus, plog.SeverityNumberWarn, "container web is unhealthy", map[string]any{AttrHealthStatus: "unhealthy"}},
		{"restart", nil, EventRestart, plog.SeverityNumberInfo, "container web was restarted", nil},
	} {
		t.Run(tc.action, func(t *testing.T) {
			m := ev(t0, tc.action, "abc", tc.attrs)
			name, ok := eventName(m.Action)
			if !ok || name != tc.name {
				t.Fatalf("event name %q (%v), want %q", name, ok, tc.name)
			}
			lr := plog.NewLogRecord()
			fill(lr, m, name, "web", 42)
			if lr.EventName() != tc.name || int64(lr.Timestamp()) != t0 || lr.ObservedTimestamp() != 42 {
				t.Errorf("event name %q, time %d, observed %d", lr.EventName(), lr.Timestamp(), lr.ObservedTimestamp())
			}
			if lr.SeverityNumber() != tc.sev || lr.SeverityText() != strings.ToUpper(tc.sev.String()) {
				t.Errorf("severity %v %q, want %v", lr.SeverityNumber(), lr.SeverityText(), tc.sev)
			}
			if got := lr.Body().Str(); got != tc.body {
				t.Errorf("body %q, want %q", got, tc.body)
			}
			want := map[string]any{"event.name": tc.name}
			for k, v := range tc.extra {
				want[k] = v
			}
			if got := lr.Attributes().AsRaw(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("attributes %v, want %v", got, want)
			}
		})
	}
}

func TestOnlyLifecycleActionsBecomeRecords(t *testing.T) {
	for _, a := range []string{"rename", "destroy", "create", "stop", "exec_start: sh", "health_statusx"} {
		if name, ok := eventName(ev(1, a, "x", nil).Action); ok {
			t.Errorf("%q becomes a record %q", a, name)
		}
	}
}
