package checkpoint

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// saveTimeout bounds one write. Writes are not tied to the receiver's
// context: the last one happens during shutdown, after that context ended.
const saveTimeout = 10 * time.Second

// retryFloor is the least wait before a failed write is tried again, so
// that a Saver without an interval does not spin on a broken store.
const retryFloor = time.Second

// Positions keeps containers' entries across collector restarts. The
// receiver passes one to the followers and closes it once they stopped.
// Commit and Remove must not block on the store: followers call Commit
// after every batch the consumer accepted.
type Positions interface {
	// Commit records container id's latest entry.
	Commit(id string, e Entry)
	// Remove forgets container id's entry.
	Remove(id string)
	// Close writes what is pending; nothing may commit after it.
	Close() error
}

var _ Positions = (*Saver)(nil)

// Saver writes positions to a Store in the background, at most once per
// minimum interval: the first commit after a quiet spell is written at
// once, and what is committed while a write runs or during the interval
// after it goes in the next write, the latest entry of each container only.
// A crash therefore repeats at most the lines accepted during one interval
// and one write. It is safe for concurrent use.
//
// A write that fails is logged once (until one succeeds) and retried after
// the interval (at least retryFloor), with or without new commits; its
// entries are kept unless a newer one replaced them.
type Saver struct {
	store    *Store
	logger   *zap.Logger
	interval time.Duration
	after    func(time.Duration) <-chan time.Time // time.After; a fake clock in tests

	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	pending map[string]Entry
	removed []string
	failing bool // the last write failed; logged once until one succeeds
}

// NewSaver starts a Saver writing to store no more often than once per
// minInterval (0: a write starts as soon as the previous one ended). It
// logs failed writes to logger. Close it once nothing commits any more,
// before closing store.
func NewSaver(store *Store, logger *zap.Logger, minInterval time.Duration) *Saver {
	return newSaver(store, logger, minInterval, time.After)
}

func newSaver(store *Store, logger *zap.Logger, minInterval time.Duration, after func(time.Duration) <-chan time.Time) *Saver {
	s := &Saver{
		store: store, logger: logger, interval: minInterval, after: after,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		pending: map[string]Entry{},
	}
	go s.run()
	return s
}

// Commit records that container id is to be saved at e, replacing what is
// pending for it. It does not block on the store.
func (s *Saver) Commit(id string, e Entry) {
	s.mu.Lock()
	s.pending[id] = e
	s.mu.Unlock()
	s.signal()
}

// Remove records that container id's entry is to be deleted; an entry
// pending for it is dropped. It does not block on the store.
func (s *Saver) Remove(id string) {
	s.mu.Lock()
	delete(s.pending, id)
	s.removed = append(s.removed, id)
	s.mu.Unlock()
	s.signal()
}

// Close writes what is pending, without waiting for the interval, and stops
// the Saver; it returns that last write's error. Commits after Close are
// not written. Calling it again returns the same error.
func (s *Saver) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
	})
	return s.closeErr
}

func (s *Saver) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Saver) run() {
	defer close(s.done)
	for {
		select {
		case <-s.wake:
		case <-s.stop:
			s.closeErr = s.write()
			return
		}
		wait := s.interval
		if err := s.write(); err != nil {
			s.logFailure(err)
			// Retried after the wait even if nothing commits any more:
			// the lines of a quiet container are accepted already.
			s.signal()
			wait = max(wait, retryFloor)
		}
		if wait <= 0 {
			continue
		}
		// The cadence: commits until the interval ends only set wake.
		select {
		case <-s.after(wait):
		case <-s.stop:
			s.closeErr = s.write()
			return
		}
	}
}

func (s *Saver) logFailure(err error) {
	s.mu.Lock()
	first := !s.failing
	s.failing = true
	s.mu.Unlock()
	if first {
		s.logger.Warn("cannot save log positions; retrying", zap.Error(err))
	}
}

// write saves the pending entries, then deletes the removed ones. On error
// it puts them back, under entries committed meanwhile.
func (s *Saver) write() error {
	s.mu.Lock()
	pending, removed := s.pending, s.removed
	s.pending, s.removed = map[string]Entry{}, nil
	s.mu.Unlock()
	if len(pending) == 0 && len(removed) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), saveTimeout)
	defer cancel()
	err := s.store.Save(ctx, pending)
	if err == nil && len(removed) > 0 {
		err = s.store.Delete(ctx, removed...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		for id, e := range pending {
			if _, newer := s.pending[id]; !newer {
				s.pending[id] = e
			}
		}
		s.removed = append(s.removed, removed...)
		return err
	}
	s.failing = false
	return nil
}
