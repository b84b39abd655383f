package receiver

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/dockertest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/enginetest"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/logsink"
)

// TestPrivilegeReceiverNeedsOnlyReadOnlyCalls runs the receiver against the
// real engine through enginetest.AllowlistProxy, which forwards only GET
// and HEAD of /_ping, /version, /info, /containers/json,
// /containers/{id}/json, /containers/{id}/logs and /events and answers 403
// to anything else. For
// about 10 s containers start and exit (stdout and stderr, Docker-split
// long lines, a TTY, short-lived ones) while streams rotate every 500 ms:
// every line must arrive exactly once, and the proxy must have seen no
// request outside the allowlist. A socket proxy configured like this one
// is therefore enough to run the receiver.
func TestPrivilegeReceiverNeedsOnlyReadOnlyCalls(t *testing.T) {
	t.Parallel()
	e := dockertest.Require(t)
	p := enginetest.NewAllowlistProxy(t, e.Endpoint())
	sink := &logsink.Sink{}
	cfg := testConfig(p.Endpoint())
	cfg.RotationInterval = 500 * time.Millisecond
	cfg.Include.Labels = []string{dockertest.LabelRun + "=" + e.RunID()}
	cfg.Include.Names = []string{"privilege-*"} // other tests of this run have their own containers
	tt := run(t, cfg, sink)

	expect := func(c *dockertest.Container, n int, streams ...string) {
		for _, s := range streams {
			sink.Checker.Expect(c.Name, s, n)
		}
	}
	start := time.Now()
	for _, o := range []struct {
		name    string
		tty     bool
		args    []string
		n       int
		streams []string
	}{
		{"privilege-both", false, []string{"-n", "400", "-streams", "both", "-rate", "80", "-then", "sleep"}, 400, []string{"stdout", "stderr"}},
		{"privilege-long", false, []string{"-n", "100", "-streams", "both", "-sizes", "100,16385,40000", "-rate", "20", "-then", "sleep"}, 100, []string{"stdout", "stderr"}},
		{"privilege-tty", true, []string{"-n", "300", "-streams", "stdout", "-rate", "30", "-then", "sleep"}, 300, []string{"stdout"}},
		{"privilege-exits", false, []string{"-n", "250", "-streams", "both", "-rate", "100", "-then", "exit"}, 250, []string{"stdout", "stderr"}},
	} {
		c := e.Run(t, dockertest.RunOptions{Name: o.name, TTY: o.tty, Args: o.args, LogOpts: map[string]string{"max-size": "500m"}})
		expect(c, o.n, o.streams...)
	}
	// Short-lived containers, one a second, while the others run.
	short := 0
	for time.Since(start) < 10*time.Second {
		c := e.Run(t, dockertest.RunOptions{Name: "privilege-short" + strconv.Itoa(short), Args: []string{"-n", "20", "-streams", "both", "-then", "exit"}})
		expect(c, 20, "stdout", "stderr")
		short++
		pace := time.NewTimer(time.Second) // paces container starts; nothing waits on it
		<-pace.C
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := sink.Checker.Wait(ctx); err != nil {
		t.Fatalf("not every line arrived: %v\n%s", err, sink.Checker.Report())
	}
	if err := sink.Checker.Report().Err(); err != nil {
		t.Fatalf("delivery not exactly once: %v", err)
	}
	rotations := counter(t, tt, "dockerlogsrotating_stream_rotations", "reason", "rotation")
	t.Logf("%d containers (%d short-lived), %d lines, %d rotations, %d requests through the proxy; distinct requests: %v",
		4+short, short, len(sink.Records()), rotations, len(p.Requests()), p.Templates())
	if rotations < 10 {
		t.Errorf("only %d rotations", rotations)
	}
	if denied := p.Denied(); len(denied) > 0 {
		var b strings.Builder
		for _, r := range denied {
			b.WriteString("\n  " + r.Method + " " + r.Path)
		}
		t.Errorf("the receiver made %d requests outside the allowlist:%s", len(denied), b.String())
	}
	info := false
	for _, tc := range p.Templates() {
		if !strings.HasPrefix(tc.Key, "GET ") && !strings.HasPrefix(tc.Key, "HEAD ") {
			t.Errorf("request %v is not a read", tc)
		}
		info = info || tc.Key == "GET /v{version}/info"
	}
	if !info {
		t.Errorf("no GET /info through the proxy (host.name is on by default): %v", p.Templates())
	}
}
