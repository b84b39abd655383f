package follower

import "time"

// A paced stream sends less than paceBytes and fewer than paceMessages
// during one delay; a stream over either is not paced. The daemon's writes
// wait in the socket during a pause, and a socket fills up by bytes or by
// messages: dockerd writes each message on its own, and a unix socket with
// Linux's default buffer takes only 278 writes of 100 bytes (27 KiB) but 13
// of 16 KiB. A stream of short lines that filled the socket during a pause
// therefore sent far less than paceBytes, yet it is a backlog: by bytes
// alone it was paced again and again, and read at a few hundred KiB/s.
const (
	paceBytes    = 64 * 1024
	paceMessages = 64
)

// readWaited is how long a read must take to count as having waited for
// the daemon: a read of bytes already in the socket returns in
// microseconds, so a longer one found the socket empty.
const readWaited = 500 * time.Microsecond

// pacer tells a slow stream from a fast one by the bytes it sent over the
// last delay. Reading a slow stream as soon as each line arrives costs a
// read, a wake-up and a ConsumeLogs per line; pausing before the next read
// lets its lines arrive together. The follower asks only after a read that
// waited for the daemon (the socket was empty): after a pause the reads
// find bytes waiting and do not ask, so a burst is read through at full
// speed however the transport cuts it into reads.
type pacer struct {
	delay    time.Duration // 0: never pace
	start    time.Time     // of the measuring window; zero before the first data
	base     int64         // bytes read before the window
	baseMsgs int64         // messages read before the window
}

// slow reports whether the stream, which has read bytes in msgs messages
// in all by now, sent less than paceBytes and fewer than paceMessages per
// delay over a window of at least half a delay (a pause is that long, so a
// paced stream's next window is complete). Within a shorter window it is
// not slow, so a fast stream's hiccup (the daemon busy for a few
// milliseconds) never pauses it.
func (p *pacer) slow(now time.Time, bytes, msgs int64) bool {
	if p.delay <= 0 {
		return false
	}
	if p.start.IsZero() {
		p.start, p.base, p.baseMsgs = now, bytes, msgs
		return false
	}
	if now.Sub(p.start) < p.delay/2 {
		return false
	}
	slow := p.wouldPause(now, bytes, msgs)
	p.start, p.base, p.baseMsgs = now, bytes, msgs
	return slow
}

// wouldPause is slow without its side effect: it reports whether slow
// would now report true, and starts no new window.
func (p *pacer) wouldPause(now time.Time, bytes, msgs int64) bool {
	if p.delay <= 0 || p.start.IsZero() {
		return false
	}
	elapsed := now.Sub(p.start)
	if elapsed < p.delay/2 {
		return false
	}
	sent, sentMsgs := bytes-p.base, msgs-p.baseMsgs
	return sent*int64(p.delay) < paceBytes*int64(elapsed) &&
		sentMsgs*int64(p.delay) < paceMessages*int64(elapsed)
}

// pause is how long to pause from now: until a multiple of delay on the
// clock at least half a delay away. Every paced stream of the process
// wakes at the same instants, so the runtime wakes once for all of them
// rather than once for each.
func (p *pacer) pause(now time.Time) time.Duration {
	next := now.Truncate(p.delay).Add(p.delay)
	if next.Sub(now) < p.delay/2 {
		next = next.Add(p.delay)
	}
	return next.Sub(now)
}
