package follower

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/checkpoint"
)

// saver writes committed positions to the store as soon as the consumer
// accepted them; what piles up during one write goes in the next. A crash
// therefore repeats at most the lines accepted during one write.
type saver struct {
	store  *checkpoint.Store
	logger *zap.Logger
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	pending map[string]checkpoint.Entry
	removed []string
	failing bool // the last write failed; logged once until one succeeds
}

func newSaver(store *checkpoint.Store, logger *zap.Logger) *saver {
	s := &saver{store: store, logger: logger, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), pending: map[string]checkpoint.Entry{}}
	go s.run()
	return s
}

func (s *saver) commit(id string, e checkpoint.Entry) {
	s.mu.Lock()
	s.pending[id] = e
	s.mu.Unlock()
	s.signal()
}

func (s *saver) remove(id string) {
	s.mu.Lock()
	delete(s.pending, id)
	s.removed = append(s.removed, id)
	s.mu.Unlock()
	s.signal()
}

func (s *saver) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *saver) run() {
	defer close(s.done)
	for {
		select {
		case <-s.wake:
			s.write()
		case <-s.stop:
			s.write()
			return
		}
	}
}

// close writes what is left and stops; call it after every follower ended.
func (s *saver) close() {
	close(s.stop)
	<-s.done
}

func (s *saver) write() {
	s.mu.Lock()
	pending, removed := s.pending, s.removed
	s.pending, s.removed = map[string]checkpoint.Entry{}, nil
	s.mu.Unlock()
	if len(pending) == 0 && len(removed) == 0 {
		return
	}
	// Not tied to the receiver's context: the last write happens during
	// shutdown, after that context ended.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.store.Save(ctx, pending)
	if err == nil && len(removed) > 0 {
		err = s.store.Delete(ctx, removed...)
	}
	if err != nil {
		s.mu.Lock()
		for id, p := range pending {
			if _, newer := s.pending[id]; !newer {
				s.pending[id] = p
			}
		}
		s.removed = append(s.removed, removed...)
		first := !s.failing
		s.failing = true
		s.mu.Unlock()
		if first {
			s.logger.Warn("cannot save log positions; retrying with the next commit", zap.Error(err))
		}
		return
	}
	s.mu.Lock()
	s.failing = false
	s.mu.Unlock()
}
