package docker

import (
	"context"
	"net/http/httptrace"
	"sync/atomic"
)

// Socket tells the reader of a response how many bytes wait unread in
// the socket that carries it, on the receiver's unix connections.
type Socket struct {
	conn atomic.Pointer[pendingConn]
}

// pendingConn is a connection that can count the bytes waiting in it.
type pendingConn interface {
	pending() (int, error)
}

// WatchSocket returns ctx set to note the connection its request is sent
// on, and the Socket that reads it.
func WatchSocket(ctx context.Context) (context.Context, *Socket) {
	s := &Socket{}
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if c, ok := info.Conn.(pendingConn); ok {
				s.conn.Store(&c)
			}
		},
	}), s
}

// Empty reports whether nothing waits in the socket, and ok whether that
// is known: only for the receiver's unix connections.
func (s *Socket) Empty() (empty, ok bool) {
	c := s.conn.Load()
	if c == nil {
		return false, false
	}
	n, err := (*c).pending()
	if err != nil {
		return false, false
	}
	return n == 0, true
}
