package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The receiver's connections to a unix socket are read in blocking mode,
// outside Go's network poller. The poller is told of every message the
// daemon writes (dockerd writes and flushes each on its own) and wakes a
// thread for it, even while a paced stream's reader sleeps to let messages
// gather: at 2,000 lines a second those wake-ups were most of the
// receiver's CPU. A blocking socket wakes its reader only when it reads.
// The cost is a thread per connection while it waits in read.

// unixConn is a net.Conn on a blocking unix socket.
type unixConn struct {
	f      *os.File
	remote *net.UnixAddr

	closeOnce sync.Once
	closeErr  error
}

// dialUnix connects to the unix socket at path in blocking mode.
func dialUnix(ctx context.Context, path string) (net.Conn, error) {
	addr := &net.UnixAddr{Name: path, Net: "unix"}
	if err := ctx.Err(); err != nil {
		return nil, &net.OpError{Op: "dial", Net: "unix", Addr: addr, Err: err}
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "unix", Addr: addr, Err: os.NewSyscallError("socket", err)}
	}
	// A unix socket connects at once or fails (a full accept queue fails
	// with EAGAIN): nothing here waits for the context.
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		_ = syscall.Close(fd)
		return nil, &net.OpError{Op: "dial", Net: "unix", Addr: addr, Err: os.NewSyscallError("connect", err)}
	}
	// os.NewFile keeps a blocking descriptor out of the poller.
	return &unixConn{f: os.NewFile(uintptr(fd), "unix:"+path), remote: addr}, nil
}

func (c *unixConn) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	return n, c.netErr("read", err)
}

func (c *unixConn) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	return n, c.netErr("write", err)
}

// netErr gives err the form net/http expects of a connection's errors.
func (c *unixConn) netErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrClosed):
		return &net.OpError{Op: op, Net: "unix", Addr: c.remote, Err: net.ErrClosed}
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return &net.OpError{Op: op, Net: "unix", Addr: c.remote, Err: os.NewSyscallError(op, pe.Err)}
	}
	return err // io.EOF
}

// Close shuts the socket down before closing it: closing a descriptor
// does not wake a thread blocked reading it, shutting it down does.
func (c *unixConn) Close() error {
	c.closeOnce.Do(func() {
		if rc, err := c.f.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { _ = syscall.Shutdown(int(fd), syscall.SHUT_RDWR) })
		}
		c.closeErr = c.f.Close()
	})
	if c.closeErr != nil {
		return fmt.Errorf("close unix %s: %w", c.remote.Name, c.closeErr)
	}
	return nil
}

// pending is how many bytes wait in the socket to be read.
func (c *unixConn) pending() (int, error) {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }); err != nil {
		return 0, err
	}
	return n, ierr
}

func (c *unixConn) LocalAddr() net.Addr  { return &net.UnixAddr{Net: "unix"} }
func (c *unixConn) RemoteAddr() net.Addr { return c.remote }

// Deadlines are refused: net/http's client sets none (it ends a request by
// closing its connection), and nothing else uses these connections.
func (c *unixConn) SetDeadline(time.Time) error      { return errNoDeadline }
func (c *unixConn) SetReadDeadline(time.Time) error  { return errNoDeadline }
func (c *unixConn) SetWriteDeadline(time.Time) error { return errNoDeadline }

var errNoDeadline = errors.New("deadlines are not supported on the receiver's unix connections")
