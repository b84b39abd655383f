package fakedocker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

const cid = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var t0 = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t *testing.T, d *fakedocker.Daemon, opts ...client.Opt) *client.Client {
	t.Helper()
	cli, err := client.New(append([]client.Opt{client.WithHost(d.Endpoint())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// rawGet does a plain HTTP request over the daemon socket (to see headers).
func rawGet(t *testing.T, d *fakedocker.Daemon, method, path string) (*http.Response, []byte) {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "unix", d.SocketPath())
	}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(testCtx(t), method, "http://docker"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func readAll(t *testing.T, cli *client.Client, id string, o client.ContainerLogsOptions) []byte {
	t.Helper()
	rc, err := cli.ContainerLogs(testCtx(t), id, o)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type frame struct {
	stream  int
	payload string
}

func readFrame(r io.Reader) (frame, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	p := make([]byte, binary.BigEndian.Uint32(h[4:]))
	if _, err := io.ReadFull(r, p); err != nil {
		return frame{}, err
	}
	return frame{int(h[0]), string(p)}, nil
}

func parseFrames(t *testing.T, b []byte) []frame {
	t.Helper()
	var out []frame
	r := bytes.NewReader(b)
	for r.Len() > 0 {
		f, err := readFrame(r)
		if err != nil {
			t.Fatalf("bad framing: %v", err)
		}
		out = append(out, f)
	}
	return out
}

// texts returns the payloads of frames without the trailing '\n'.
func texts(fs []frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = strings.TrimSuffix(f.payload, "\n")
	}
	return out
}

func eq[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}
}

func TestPingVersionNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []fakedocker.Option
		engine string
		api    string
		mode   fakedocker.SinceMode
	}{
		{"modern", nil, "29.1.0", "1.52", fakedocker.SincePrefix},
		{"legacy", []fakedocker.Option{fakedocker.WithEngineVersion("20.10.24")}, "20.10.24", "1.41", fakedocker.SinceFilter},
		{"explicit", []fakedocker.Option{fakedocker.WithAPIVersion("1.44"), fakedocker.WithSinceMode(fakedocker.SinceFilter)}, "29.1.0", "1.44", fakedocker.SinceFilter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedocker.New(t, tc.opts...)
			if d.SinceMode() != tc.mode {
				t.Fatalf("since mode %v, want %v", d.SinceMode(), tc.mode)
			}
			cli := newClient(t, d)
			ctx := testCtx(t)
			p, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
			if err != nil {
				t.Fatal(err)
			}
			if p.APIVersion != tc.api || p.OSType != "linux" || p.Experimental {
				t.Fatalf("ping: %+v", p)
			}
			if cli.ClientVersion() != tc.api {
				t.Fatalf("negotiated %s, want %s", cli.ClientVersion(), tc.api)
			}
			v, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Version != tc.engine || v.APIVersion != tc.api || v.MinAPIVersion != "1.24" || v.Os != "linux" || v.Arch == "" {
				t.Fatalf("version: %+v", v)
			}
			reqs := d.Requests()
			if len(reqs) != 2 || reqs[0].Method != http.MethodHead || reqs[0].Path != "/_ping" || reqs[0].APIVersion != "" {
				t.Fatalf("requests: %+v", reqs)
			}
			if reqs[1].Path != "/version" || reqs[1].APIVersion != tc.api {
				t.Fatalf("version request: %+v", reqs[1])
			}
		})
	}

	d := fakedocker.New(t)
	resp, body := rawGet(t, d, http.MethodGet, "/_ping")
	if string(body) != "OK" || resp.Header.Get("API-Version") != "1.52" || resp.Header.Get("OSType") != "linux" || resp.Header.Get("Docker-Experimental") != "false" {
		t.Fatalf("GET /_ping: %v %q", resp.Header, body)
	}
	resp, body = rawGet(t, d, http.MethodGet, "/v1.99/version")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "too new") {
		t.Fatalf("too new: %d %s", resp.StatusCode, body)
	}
	resp, body = rawGet(t, d, http.MethodGet, "/v1.52/nope")
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), `"message"`) {
		t.Fatalf("unknown path: %d %s", resp.StatusCode, body)
	}
}

func TestListInspect(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{ID: cid, Name: "web", Image: "nginx:1", Labels: map[string]string{"app": "web", "tier": "front"}, Env: []string{"A=1"}})
	d.AddContainer(fakedocker.Container{Name: "db", Image: "postgres:16", Labels: map[string]string{"app": "db"}, TTY: true, LogDriver: "local"})
	d.Start(cid)
	cli := newClient(t, d)
	ctx := testCtx(t)

	names := func(o client.ContainerListOptions) []string {
		t.Helper()
		res, err := cli.ContainerList(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range res.Items {
			out = append(out, strings.Join(c.Names, ",")+":"+string(c.State))
		}
		return out
	}
	eq(t, "running", names(client.ContainerListOptions{}), []string{"/web:running"})
	eq(t, "all", names(client.ContainerListOptions{All: true}), []string{"/db:created", "/web:running"})
	eq(t, "label", names(client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "app=db")}), []string{"/db:created"})
	eq(t, "label key", names(client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "tier")}), []string{"/web:running"})
	eq(t, "name", names(client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("name", "^/db$")}), []string{"/db:created"})
	eq(t, "id", names(client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("id", cid[:12])}), []string{"/web:running"})
	eq(t, "status", names(client.ContainerListOptions{Filters: make(client.Filters).Add("status", "created")}), []string{"/db:created"})

	res, err := cli.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Items[0]; s.ID != cid || s.Image != "nginx:1" || s.Labels["app"] != "web" || s.Status == "" {
		t.Fatalf("summary: %+v", s)
	}

	ins, err := cli.ContainerInspect(ctx, "web", client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := ins.Container
	if c.ID != cid || c.Name != "/web" || c.Config.Image != "nginx:1" || c.Config.Labels["tier"] != "front" ||
		len(c.Config.Env) != 1 || c.Config.Tty || !c.State.Running || c.State.Status != "running" ||
		c.HostConfig.LogConfig.Type != "json-file" || !strings.HasPrefix(c.Image, "sha256:") {
		t.Fatalf("inspect: %s", ins.Raw)
	}
	if st, err := time.Parse(time.RFC3339Nano, c.State.StartedAt); err != nil || st.IsZero() {
		t.Fatalf("StartedAt %q: %v", c.State.StartedAt, err)
	}
	ins, err = cli.ContainerInspect(ctx, d.ContainerID("db")[:10], client.ContainerInspectOptions{})
	if err != nil || !ins.Container.Config.Tty || ins.Container.HostConfig.LogConfig.Type != "local" || ins.Container.State.Running {
		t.Fatalf("inspect db by prefix: %v %s", err, ins.Raw)
	}

	_, err = cli.ContainerInspect(ctx, "nope", client.ContainerInspectOptions{})
	if !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such container: nope") {
		t.Fatalf("missing: %v", err)
	}
	d.Remove(cid)
	if _, err = cli.ContainerInspect(ctx, cid, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Fatalf("removed: %v", err)
	}
	eq(t, "after remove", names(client.ContainerListOptions{All: true}), []string{"/db:created"})
}

func TestLogsMuxFraming(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{ID: cid, Name: "app"})
	es := []fakedocker.Entry{
		{Time: at(1), Stream: 1, Text: []byte("out one")},
		{Time: at(2), Stream: 2, Text: []byte("err one")},
		{Time: at(3), Stream: 1, Text: []byte("part-a"), Partial: true},
		{Time: at(3), Stream: 1, Text: []byte("part-b")},
		{Time: at(4), Stream: 1, Text: nil},
	}
	d.WriteEntries(cid, es...)
	cli := newClient(t, d)

	for _, ts := range []bool{false, true} {
		var want []byte
		for _, e := range es {
			want = append(want, fakedocker.Frame(e.Stream, fakedocker.FormatLine(e, ts))...)
		}
		got := readAll(t, cli, cid, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: ts})
		if !bytes.Equal(got, want) {
			t.Fatalf("timestamps=%v:\n got %q\nwant %q", ts, got, want)
		}
	}
	// Exact bytes, spelled out once.
	got := readAll(t, cli, cid, client.ContainerLogsOptions{ShowStderr: true, Timestamps: true})
	want := "\x02\x00\x00\x00\x00\x00\x00\x27" + "2024-01-02T03:04:07.000000000Z err one\n"
	if string(got) != want {
		t.Fatalf("stderr only: got %q want %q", got, want)
	}
	eq(t, "stdout only", texts(parseFrames(t, readAll(t, cli, cid, client.ContainerLogsOptions{ShowStdout: true}))),
		[]string{"out one", "part-a", "part-b", ""})

	resp, _ := rawGet(t, d, http.MethodGet, "/v1.52/containers/app/logs?stdout=1")
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.docker.multiplexed-stream" {
		t.Fatalf("content type %q", ct)
	}
	resp, body := rawGet(t, d, http.MethodGet, "/containers/app/logs")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "choose at least one stream") {
		t.Fatalf("no stream: %d %s", resp.StatusCode, body)
	}

	// Details with log attributes, and a 16 KiB split.
	d.AddContainer(fakedocker.Container{Name: "det", LogAttrs: map[string]string{"b": "2", "a": "x y"}})
	d.Write("det", fakedocker.Entry{Time: at(1), Text: []byte("hi")})
	eq(t, "details", texts(parseFrames(t, readAll(t, cli, "det", client.ContainerLogsOptions{ShowStdout: true, Details: true}))),
		[]string{"a=x+y,b=2 hi"})
	long := strings.Repeat("x", 2*fakedocker.DockerSplitSize+100)
	d.WriteSplit("det", fakedocker.Stdout, long, 0)
	fs := parseFrames(t, readAll(t, cli, "det", client.ContainerLogsOptions{ShowStdout: true, Tail: "3"}))
	if len(fs) != 3 || len(fs[0].payload) != fakedocker.DockerSplitSize || len(fs[1].payload) != fakedocker.DockerSplitSize ||
		fs[2].payload != strings.Repeat("x", 100)+"\n" {
		t.Fatalf("split: %d frames", len(fs))
	}
}

func TestLogsTTYAndLegacyContentType(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{ID: cid, Name: "tty", TTY: true})
	d.WriteEntries(cid,
		fakedocker.Entry{Time: at(1), Text: []byte("$ ls")},
		fakedocker.Entry{Time: at(2), Text: []byte("a b"), Partial: true},
		fakedocker.Entry{Time: at(2), Text: []byte("c")},
	)
	cli := newClient(t, d)
	got := readAll(t, cli, cid, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	want := "2024-01-02T03:04:06.000000000Z $ ls\n2024-01-02T03:04:07.000000000Z a b2024-01-02T03:04:07.000000000Z c\n"
	if string(got) != want {
		t.Fatalf("tty:\n got %q\nwant %q", got, want)
	}
	resp, _ := rawGet(t, d, http.MethodGet, "/v1.52/containers/tty/logs?stdout=1")
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.docker.raw-stream" {
		t.Fatalf("tty content type %q", ct)
	}

	// API < 1.42 announces raw-stream even for a multiplexed (non-TTY) body.
	old := fakedocker.New(t, fakedocker.WithEngineVersion("20.10.24"))
	old.AddContainer(fakedocker.Container{ID: cid, Name: "plain"})
	old.WriteLines(cid, fakedocker.Stdout, "hello")
	resp, body := rawGet(t, old, http.MethodGet, "/v1.41/containers/plain/logs?stdout=1")
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.docker.raw-stream" {
		t.Fatalf("legacy content type %q", ct)
	}
	eq(t, "legacy body", texts(parseFrames(t, body)), []string{"hello"})
	ocli := newClient(t, old)
	eq(t, "legacy client", texts(parseFrames(t, readAll(t, ocli, cid, client.ContainerLogsOptions{ShowStdout: true}))), []string{"hello"})
	if ocli.ClientVersion() != "1.41" {
		t.Fatalf("legacy negotiated %s", ocli.ClientVersion())
	}
}

// outOfOrder is a log whose timestamps go backwards: 1 5 2 6 3.
func outOfOrder(d *fakedocker.Daemon) {
	for _, s := range []float64{1, 5, 2, 6, 3} {
		d.Write(cid, fakedocker.Entry{Time: at(s), Text: []byte(time.Duration(s * float64(time.Second)).String())})
	}
}

func TestSincePrefixVsFilter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []fakedocker.Option
		history  []string
		tailed   []string // tail=3 (2 6 3) then since=4
		followed []string
	}{
		{"prefix", nil, []string{"5s", "2s", "6s", "3s"}, []string{"6s", "3s"}, []string{"1s", "7s"}},
		{"filter", []fakedocker.Option{fakedocker.WithEngineVersion("20.10.24")}, []string{"5s", "6s"}, []string{"6s"}, []string{"7s"}},
		{"filter-forced-modern", []fakedocker.Option{fakedocker.WithSinceMode(fakedocker.SinceFilter)}, []string{"5s", "6s"}, []string{"6s"}, []string{"7s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedocker.New(t, tc.opts...)
			d.AddContainer(fakedocker.Container{ID: cid, Name: "app"})
			outOfOrder(d)
			cli := newClient(t, d)
			since := fakedocker.FormatTimestamp(at(4))
			eq(t, "history", texts(parseFrames(t, readAll(t, cli, cid, client.ContainerLogsOptions{ShowStdout: true, Since: since}))), tc.history)
			eq(t, "tail+since", texts(parseFrames(t, readAll(t, cli, cid, client.ContainerLogsOptions{ShowStdout: true, Since: since, Tail: "3"}))), tc.tailed)
			eq(t, "integer since", texts(parseFrames(t, readAll(t, cli, cid, client.ContainerLogsOptions{ShowStdout: true, Since: "1704164649"}))), tc.history)
			if got := d.Requests()[len(d.Requests())-1].Query.Get("since"); got != "1704164649" {
				t.Fatalf("since sent as %q", got)
			}

			// Follow with tail=0: no history; a new out-of-order message (1s)
			// passes in prefix mode only after the since gate opened (7s).
			d.Start(cid)
			ctx := testCtx(t)
			rc, err := cli.ContainerLogs(ctx, cid, client.ContainerLogsOptions{ShowStdout: true, Since: since, Tail: "0", Follow: true})
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if err := d.WaitLogStreams(ctx, 1); err != nil {
				t.Fatal(err)
			}
			d.Write(cid, fakedocker.Entry{Time: at(3.5), Text: []byte("3.5s")}) // before since: always dropped
			d.Write(cid, fakedocker.Entry{Time: at(4.5), Text: []byte("4.5s")})
			d.Write(cid, fakedocker.Entry{Time: at(1), Text: []byte("1s")})
			d.Write(cid, fakedocker.Entry{Time: at(7), Text: []byte("7s")})
			d.Stop(cid)
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "follow", texts(parseFrames(t, b)), append([]string{"4.5s"}, tc.followed...))
		})
	}
}

func TestTailUntil(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{ID: cid, Name: "app"})
	for s := 1; s <= 5; s++ {
		d.Write(cid, fakedocker.Entry{Time: at(float64(s)), Text: []byte{byte('0' + s)}})
	}
	cli := newClient(t, d)
	get := func(o client.ContainerLogsOptions) []string {
		o.ShowStdout = true
		return texts(parseFrames(t, readAll(t, cli, cid, o)))
	}
	eq(t, "tail 2", get(client.ContainerLogsOptions{Tail: "2"}), []string{"4", "5"})
	eq(t, "tail 0", get(client.ContainerLogsOptions{Tail: "0"}), nil)
	eq(t, "tail all", get(client.ContainerLogsOptions{Tail: "all"}), []string{"1", "2", "3", "4", "5"})
	eq(t, "tail 9", get(client.ContainerLogsOptions{Tail: "9"}), []string{"1", "2", "3", "4", "5"})
	eq(t, "tail 3 since 4", get(client.ContainerLogsOptions{Tail: "3", Since: fakedocker.FormatTimestamp(at(4))}), []string{"4", "5"})
	eq(t, "tail 2 since 1", get(client.ContainerLogsOptions{Tail: "2", Since: fakedocker.FormatTimestamp(at(1))}), []string{"4", "5"})
	eq(t, "until inclusive", get(client.ContainerLogsOptions{Until: fakedocker.FormatTimestamp(at(3))}), []string{"1", "2", "3"})
	eq(t, "since..until", get(client.ContainerLogsOptions{Since: fakedocker.FormatTimestamp(at(2)), Until: fakedocker.FormatTimestamp(at(3.5))}), []string{"2", "3"})
}

func TestFollowStopEOF(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{ID: cid, Name: "app"})
	d.Start(cid)
	d.WriteLines(cid, fakedocker.Stdout, "h1", "h2")
	cli := newClient(t, d)
	ctx := testCtx(t)

	rc, err := cli.ContainerLogs(ctx, cid, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for _, want := range []string{"h1\n", "h2\n"} {
		f, err := readFrame(rc)
		if err != nil || f.payload != want {
			t.Fatalf("history frame: %+v %v", f, err)
		}
	}
	if err := d.WaitLogStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	ts := d.WriteLines(cid, fakedocker.Stderr, "l1")
	f, err := readFrame(rc) // delivered live, before anything else happens
	if err != nil || f != (frame{2, "l1\n"}) {
		t.Fatalf("live frame: %+v %v", f, err)
	}
	var lines []string
	for i := range 200 {
		lines = append(lines, "n"+string(rune('a'+i%26)))
	}
	more := d.WriteLines(cid, fakedocker.Stdout, lines...)
	if !more[0].After(ts[0]) {
		t.Fatal("timestamps not increasing")
	}
	d.Stop(cid) // everything written before Stop is still delivered, then EOF
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("want clean EOF, got %v", err)
	}
	eq(t, "after stop", texts(parseFrames(t, b)), lines)
	if err := d.WaitLogStreams(ctx, 0); err != nil {
		t.Fatal(err)
	}

	// Follow on a stopped container: history, then EOF.
	eq(t, "stopped follow", texts(parseFrames(t, readAll(t, cli, cid, client.ContainerLogsOptions{ShowStdout: true, Follow: true, Tail: "1"}))), []string{"nr"})

	// Client going away ends the stream too.
	d.Start(cid)
	cctx, cancel := context.WithCancel(ctx)
	rc2, err := cli.ContainerLogs(cctx, cid, client.ContainerLogsOptions{ShowStdout: true, Follow: true, Tail: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WaitLogStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	_ = rc2.Close()
	if err := d.WaitLogStreams(ctx, 0); err != nil {
		t.Fatal(err)
	}

	// Remove also ends a follow stream.
	rc3, err := cli.ContainerLogs(ctx, cid, client.ContainerLogsOptions{ShowStdout: true, Follow: true, Tail: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer rc3.Close()
	if err := d.WaitLogStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	d.WriteLines(cid, fakedocker.Stdout, "last")
	d.Remove(cid)
	b, err = io.ReadAll(rc3)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "remove", texts(parseFrames(t, b)), []string{"last"})
}

func TestLogsErrors(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{ID: cid, Name: "quiet", LogDriver: "none"})
	cli := newClient(t, d)
	ctx := testCtx(t)
	_, err := cli.ContainerLogs(ctx, cid, client.ContainerLogsOptions{ShowStdout: true})
	if !cerrdefs.IsNotImplemented(err) || !strings.Contains(err.Error(), "configured logging driver does not support reading") {
		t.Fatalf("driver none: %v", err)
	}
	_, err = cli.ContainerLogs(ctx, "ghost", client.ContainerLogsOptions{ShowStdout: true})
	if !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such container: ghost") {
		t.Fatalf("missing: %v", err)
	}
	r := d.RequestsTo("/containers/ghost/logs")
	if len(r) != 1 || r[0].Query.Get("stdout") != "1" || r[0].Query.Has("stderr") || r[0].APIVersion != "1.52" {
		t.Fatalf("recorded: %+v", r)
	}
}

func TestEventsSinceReplay(t *testing.T) {
	d := fakedocker.New(t)
	cli := newClient(t, d)
	d.AddContainer(fakedocker.Container{ID: cid, Name: "app", Image: "img:1", Labels: map[string]string{"team": "x"}})
	d.Start(cid)
	d.Rename(cid, "app2")
	d.Stop(cid)
	evs := d.Events()
	if len(evs) != 4 {
		t.Fatalf("events: %+v", evs)
	}
	ctx := testCtx(t)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := cli.Events(cctx, client.EventsListOptions{
		Since:   fakedocker.FormatTimestamp(time.Unix(0, evs[1].TimeNano)),
		Filters: make(client.Filters).Add("type", "container"),
	})
	next := func() events.Message {
		t.Helper()
		select {
		case m := <-res.Messages:
			return m
		case err := <-res.Err:
			t.Fatalf("events error: %v", err)
		case <-ctx.Done():
			t.Fatal("timeout")
		}
		return events.Message{}
	}
	for _, want := range []events.Action{"start", "rename", "die"} {
		m := next()
		if m.Action != want || m.Type != "container" || m.Actor.ID != cid || m.Scope != "local" || m.TimeNano == 0 || m.Time != m.TimeNano/1e9 {
			t.Fatalf("replay: %+v, want %s", m, want)
		}
		if m.Actor.Attributes["image"] != "img:1" || m.Actor.Attributes["team"] != "x" {
			t.Fatalf("attributes: %+v", m.Actor.Attributes)
		}
		if want == "rename" && (m.Actor.Attributes["oldName"] != "/app" || m.Actor.Attributes["name"] != "app2") {
			t.Fatalf("rename: %+v", m.Actor.Attributes)
		}
	}
	if err := d.WaitEventStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	d.Remove(cid)
	if m := next(); m.Action != "destroy" || m.Actor.Attributes["name"] != "app2" {
		t.Fatalf("live: %+v", m)
	}
	cancel()
	if err := d.WaitEventStreams(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := <-res.Err; !errors.Is(err, context.Canceled) {
		t.Fatalf("end: %v", err)
	}

	// Filter on event, no since: only new events.
	cctx2, cancel2 := context.WithCancel(ctx)
	defer cancel2()
	res = cli.Events(cctx2, client.EventsListOptions{Filters: make(client.Filters).Add("event", "start")})
	if err := d.WaitEventStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	d.AddContainer(fakedocker.Container{Name: "b"})
	d.Start("b")
	if m := next(); m.Action != "start" || m.Actor.Attributes["name"] != "b" {
		t.Fatalf("filtered: %+v", m)
	}
	cancel2()
	<-res.Err
}

func TestLogsFaults(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{ID: cid, Name: "app"})
	d.Start(cid)
	d.WriteLines(cid, fakedocker.Stdout, "first", "second")
	cli := newClient(t, d)
	ctx := testCtx(t)

	t.Run("status", func(t *testing.T) {
		d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
			w.Status(http.StatusServiceUnavailable, "daemon busy")
			return true
		})
		defer d.SetLogsFault(nil)
		_, err := cli.ContainerLogs(ctx, cid, client.ContainerLogsOptions{ShowStdout: true})
		if !cerrdefs.IsUnavailable(err) || !strings.Contains(err.Error(), "daemon busy") {
			t.Fatalf("503: %v", err)
		}
	})

	t.Run("hang", func(t *testing.T) {
		d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
			w.Hang()
			return true
		})
		defer d.SetLogsFault(nil)
		cctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		go func() {
			rc, err := cli.ContainerLogs(cctx, cid, client.ContainerLogsOptions{ShowStdout: true, Follow: true})
			if rc != nil {
				_ = rc.Close()
			}
			errc <- err
		}()
		if err := d.WaitLogStreams(ctx, 1); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("hang: %v", err)
		}
		if err := d.WaitLogStreams(ctx, 0); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("cut mid-frame", func(t *testing.T) {
		first := fakedocker.Frame(1, []byte("first\n"))
		d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
			w.CutAfter(len(first) + 3) // 3 bytes into the second frame header
			return true
		})
		defer d.SetLogsFault(nil)
		rc, err := cli.ContainerLogs(ctx, cid, client.ContainerLogsOptions{ShowStdout: true, Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("want unexpected EOF, got %v", err)
		}
		if want := append(first, 1, 0, 0); !bytes.Equal(b, want) {
			t.Fatalf("got %q want %q", b, want)
		}
	})

	t.Run("raw then normal", func(t *testing.T) {
		calls := 0
		d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
			calls++
			if calls > 1 {
				return false
			}
			_ = w.WriteRaw([]byte{2, 0, 0, 0, 0, 0, 0, 99, 'x'}) // frame header promising 99 bytes
			return true
		})
		defer d.SetLogsFault(nil)
		b := readAll(t, cli, cid, client.ContainerLogsOptions{ShowStdout: true})
		if !bytes.Equal(b, []byte{2, 0, 0, 0, 0, 0, 0, 99, 'x'}) {
			t.Fatalf("raw: %q", b)
		}
		eq(t, "second call", texts(parseFrames(t, readAll(t, cli, cid, client.ContainerLogsOptions{ShowStdout: true}))), []string{"first", "second"})
	})

	t.Run("drop", func(t *testing.T) {
		d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
			w.Drop()
			return true
		})
		defer d.SetLogsFault(nil)
		if _, err := cli.ContainerLogs(ctx, cid, client.ContainerLogsOptions{ShowStdout: true}); err == nil {
			t.Fatal("want error")
		}
	})
}

func TestEventsFaultCut(t *testing.T) {
	d := fakedocker.New(t)
	d.SetEventsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
		w.CutAfter(0)
		return true
	})
	cli := newClient(t, d)
	res := cli.Events(testCtx(t), client.EventsListOptions{})
	select {
	case m := <-res.Messages:
		t.Fatalf("unexpected %+v", m)
	case err := <-res.Err:
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("want unexpected EOF, got %v", err)
		}
	}

	// Generic hook: fail /containers/json once.
	fails := 1
	d.SetFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool {
		if req.Path == "/containers/json" && fails > 0 {
			fails--
			w.Status(http.StatusInternalServerError, "boom")
			return true
		}
		return false
	})
	ctx := testCtx(t)
	if _, err := cli.ContainerList(ctx, client.ContainerListOptions{}); !cerrdefs.IsInternal(err) {
		t.Fatalf("list fault: %v", err)
	}
	if _, err := cli.ContainerList(ctx, client.ContainerListOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestCloseEndsStreams(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{ID: cid, Name: "app"})
	d.Start(cid)
	d.SetEventsFault(nil)
	cli := newClient(t, d)
	ctx := testCtx(t)
	rc, err := cli.ContainerLogs(ctx, cid, client.ContainerLogsOptions{ShowStdout: true, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	res := cli.Events(ctx, client.EventsListOptions{})
	d.SetLogsFault(func(req fakedocker.Request, w *fakedocker.FaultWriter) bool { w.Hang(); return true })
	hung := make(chan error, 1)
	go func() {
		rc, err := cli.ContainerLogs(ctx, cid, client.ContainerLogsOptions{ShowStdout: true})
		if rc != nil {
			_ = rc.Close()
		}
		hung <- err
	}()
	if err := d.WaitLogStreams(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := d.WaitEventStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d.Close() // idempotent
	if _, err := io.ReadAll(rc); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("follow after close: want unexpected EOF (not a clean end), got %v", err)
	}
	if err := <-res.Err; err == nil {
		t.Fatal("events: want an error")
	}
	if err := <-hung; err == nil {
		t.Fatal("hung request: want an error")
	}
	if n := d.OpenLogStreams(); n != 0 {
		t.Fatalf("open streams after close: %d", n)
	}
}

// TestForget: forgotten messages are gone from history; a follower that
// sent them already goes on with the next new message.
func TestForget(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{ID: cid, Name: "app"})
	d.Start(cid)
	d.WriteLines(cid, fakedocker.Stdout, "a", "b", "c")
	cli := newClient(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cli.ContainerLogs(ctx, cid, client.ContainerLogsOptions{ShowStdout: true, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	// The response headers come before the stream takes its view of the
	// log; forget only once it has.
	if err := d.WaitLogStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	d.Forget(cid, 2)
	d.WriteLines(cid, fakedocker.Stdout, "d")
	eq(t, "history", texts(parseFrames(t, readAll(t, cli, cid, client.ContainerLogsOptions{ShowStdout: true}))), []string{"c", "d"})
	buf := make([]byte, 0, 64)
	for len(parseFramesLoose(buf)) < 4 {
		b := make([]byte, 64)
		n, err := res.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		buf = append(buf, b[:n]...)
	}
	eq(t, "followed", texts(parseFrames(t, buf)), []string{"a", "b", "c", "d"})
}

// parseFramesLoose counts the complete frames at the start of b.
func parseFramesLoose(b []byte) []struct{} {
	var out []struct{}
	for len(b) >= 8 {
		n := int(b[4])<<24 | int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		if len(b) < 8+n {
			break
		}
		out = append(out, struct{}{})
		b = b[8+n:]
	}
	return out
}

// TestEventsLifecycleHelpers: Exit's die carries the exit code (inspect
// and the listing report it too), EmitContainerEvent stamps the container's
// attributes, a health_status filter matches as a prefix like the daemon's,
// and /info reports the daemon clock.
func TestEventsLifecycleHelpers(t *testing.T) {
	now := at(0)
	d := fakedocker.New(t, fakedocker.WithClock(func() time.Time { return now }))
	cli := newClient(t, d)
	ctx := testCtx(t)
	d.AddContainer(fakedocker.Container{ID: cid, Name: "app", Image: "img:1", Labels: map[string]string{"team": "x"}})
	d.Start(cid)
	d.EmitContainerEvent(cid, "kill", map[string]string{"signal": "15"})
	d.EmitContainerEvent(cid, "health_status: unhealthy", nil)
	d.Exit(cid, 3)

	in, err := cli.ContainerInspect(ctx, cid, client.ContainerInspectOptions{})
	if err != nil || in.Container.State.ExitCode != 3 || in.Container.State.Running {
		t.Fatalf("inspect: %+v %v", in.Container.State, err)
	}
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil || len(list.Items) != 1 || list.Items[0].Status != "Exited (3)" {
		t.Fatalf("list: %+v %v", list.Items, err)
	}
	info, err := cli.Info(ctx, client.InfoOptions{})
	if err != nil || info.Info.SystemTime != now.Format(time.RFC3339Nano) {
		t.Fatalf("info SystemTime %q, want %q (%v)", info.Info.SystemTime, now.Format(time.RFC3339Nano), err)
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := cli.Events(cctx, client.EventsListOptions{
		Since:   "0.000000001",
		Filters: make(client.Filters).Add("type", "container").Add("event", "die", "health_status", "kill"),
	})
	var got []string
	for len(got) < 3 {
		select {
		case m := <-res.Messages:
			a := m.Actor.Attributes
			if a["name"] != "app" || a["image"] != "img:1" || a["team"] != "x" {
				t.Fatalf("%s: attributes %v", m.Action, a)
			}
			got = append(got, string(m.Action)+"/"+a["signal"]+a["exitCode"])
		case err := <-res.Err:
			t.Fatal(err)
		}
	}
	if want := "[kill/15 health_status: unhealthy/ die/3]"; fmt.Sprint(got) != want {
		t.Fatalf("events %v, want %s", got, want)
	}
}

// TestEventsResetForgetsHistoryAndEndsStreams: after ResetEvents a since
// request replays nothing from before, and streams open at the reset end.
func TestEventsResetForgetsHistoryAndEndsStreams(t *testing.T) {
	d := fakedocker.New(t)
	cli := newClient(t, d)
	ctx := testCtx(t)
	d.AddContainer(fakedocker.Container{ID: cid, Name: "app"})
	d.Start(cid)
	res := cli.Events(ctx, client.EventsListOptions{Since: "1"})
	if err := d.WaitEventStreams(ctx, 1); err != nil {
		t.Fatal(err)
	}
	d.ResetEvents()
	n := 0
	for done := false; !done; {
		select {
		case <-res.Messages:
			n++
		case err := <-res.Err:
			if !errors.Is(err, io.EOF) {
				t.Fatalf("stream end: %v, want EOF", err)
			}
			done = true
		}
	}
	if n != 2 {
		t.Fatalf("%d events before the reset, want create and start", n)
	}
	d.Stop(cid)
	res = cli.Events(ctx, client.EventsListOptions{Since: "1", Until: fakedocker.FormatTimestamp(time.Now())})
	var got []events.Action
	for done := false; !done; {
		select {
		case m := <-res.Messages:
			got = append(got, m.Action)
		case <-res.Err:
			done = true
		}
	}
	if len(got) != 1 || got[0] != "die" {
		t.Fatalf("replay after the reset: %v, want [die]", got)
	}
}
