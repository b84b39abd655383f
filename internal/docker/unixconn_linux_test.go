package docker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listenUnix serves a unix socket in the test's directory and returns its
// path and the connections it accepts.
func listenUnix(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "d.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		close(conns)
		for c := range conns {
			_ = c.Close()
		}
	})
	return path, conns
}

func TestUnixConnCarriesBytesBothWays(t *testing.T) {
	path, conns := listenUnix(t)
	c, err := dialUnix(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := <-conns

	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB: many reads
	go func() { _, _ = srv.Write(big); _ = srv.Close() }()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("read %d bytes, want the %d written", len(got), len(big))
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Error("a write after the peer closed succeeded")
	}
}

// TestUnixConnCloseWakesABlockedRead: the transport ends a request (a
// rotation, a shutdown) by closing its connection while the reader waits
// for the daemon; the read must return.
func TestUnixConnCloseWakesABlockedRead(t *testing.T) {
	path, conns := listenUnix(t)
	c, err := dialUnix(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	<-conns // the peer stays silent
	read := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 64))
		read <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the read block; returning early passes too
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-read:
		if err == nil {
			t.Error("the blocked read returned no error after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the blocked read")
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v, want net.ErrClosed", err)
	}
}

func TestDialUnixFails(t *testing.T) {
	_, err := dialUnix(t.Context(), filepath.Join(t.TempDir(), "none.sock"))
	var oe *net.OpError
	if !errors.As(err, &oe) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dial a missing socket: %v, want a *net.OpError for a missing file", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := dialUnix(ctx, "/nowhere"); !errors.Is(err, context.Canceled) {
		t.Errorf("dial with an ended context: %v", err)
	}
}

// serveHTTP serves h on a unix socket until the test ends and returns a
// client that reaches it through dialUnix.
func serveHTTP(t *testing.T, h http.HandlerFunc) *http.Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "d.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dialUnix(ctx, path) }}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = srv.Close()
	})
	return &http.Client{Transport: tr}
}

// TestUnixConnRequestCancelledMidBody: an HTTP response whose body stalls
// (a quiet follow stream) is cut by its context, as the follower's
// rotation does, and the client's next request works.
func TestUnixConnRequestCancelledMidBody(t *testing.T) {
	stall := make(chan struct{})
	defer close(stall) // before the server closes (cleanups run after defers)
	hc := serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		if r.URL.Path == "/stall" {
			select {
			case <-stall:
			case <-r.Context().Done():
			}
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://d/stall", nil)
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("first bytes %q, %v", buf, err)
	}
	read := make(chan error, 1)
	go func() { _, err := res.Body.Read(buf); read <- err }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-read:
		if err == nil {
			t.Error("the stalled body read returned no error after its context ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the request did not end the blocked body read")
	}
	_ = res.Body.Close()

	res, err = hc.Get("http://d/ok")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if !strings.HasPrefix(string(b), "first") {
		t.Errorf("next request read %q", b)
	}
}

// TestWatchSocketSeesWaitingBytes: the reader of a response learns whether
// bytes wait in its unix socket, and that it cannot know on another kind of
// connection.
func TestWatchSocketSeesWaitingBytes(t *testing.T) {
	more := make(chan struct{})
	hc := serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-more:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "second\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	wctx, sock := WatchSocket(ctx)
	req, _ := http.NewRequestWithContext(wctx, http.MethodGet, "http://d/", nil)
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(res.Body, buf); err != nil {
		t.Fatal(err)
	}
	if empty, ok := sock.Empty(); !ok || !empty {
		t.Errorf("after reading all that was sent: empty %v, known %v; want both", empty, ok)
	}
	close(more)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if empty, ok := sock.Empty(); ok && !empty {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the socket never showed the second write waiting")
		}
		time.Sleep(time.Millisecond)
	}

	var none Socket
	if _, ok := none.Empty(); ok {
		t.Error("a Socket that saw no unix connection claims to know")
	}
}
