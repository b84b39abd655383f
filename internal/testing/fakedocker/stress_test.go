package fakedocker_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/fakedocker"
)

// A slow (non-reading) follower must not hold back the others, and every
// follower gets every message in order.
func TestFollowersLosslessSlowClient(t *testing.T) {
	d := fakedocker.New(t)
	d.AddContainer(fakedocker.Container{ID: cid, Name: "app"})
	d.Start(cid)
	cli := newClient(t, d)
	ctx := testCtx(t)

	const n = 8000
	pad := strings.Repeat("p", 60)
	open := func() io.ReadCloser {
		rc, err := cli.ContainerLogs(ctx, cid, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rc.Close() })
		return rc
	}
	slow := open()
	fast := []io.ReadCloser{open(), open()}
	if err := d.WaitLogStreams(ctx, 3); err != nil {
		t.Fatal(err)
	}

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := range n {
			d.Write(cid, fakedocker.Entry{Stream: 1 + i%2, Text: fmt.Appendf(nil, "%06d%s", i, pad)})
		}
	}()

	check := func(r io.Reader) error {
		for i := range n {
			f, err := readFrame(r)
			if err != nil {
				return fmt.Errorf("frame %d: %w", i, err)
			}
			if want := fmt.Sprintf("%06d%s\n", i, pad); f.payload != want || f.stream != 1+i%2 {
				return fmt.Errorf("frame %d: got %d %q want %q", i, f.stream, f.payload, want)
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(fast))
	for i, r := range fast {
		wg.Go(func() { errs[i] = check(r) })
	}
	wg.Wait() // completes although nobody reads `slow` (~1 MB pending for it)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	<-writerDone
	if err := check(slow); err != nil {
		t.Fatal(err)
	}
}

func TestLongSocketPath(t *testing.T) {
	t.Run(strings.Repeat("very_long_subtest_name_", 8), func(t *testing.T) {
		d := fakedocker.New(t)
		if len(d.SocketPath()) > 100 {
			t.Fatalf("socket path too long: %d", len(d.SocketPath()))
		}
		cli := newClient(t, d)
		if _, err := cli.Ping(context.Background(), client.PingOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}
