// Package checkpoint keeps container positions in the collector's storage
// extension, so a restarted collector resumes every container where it
// stopped.
//
// One key per container ("container/<id>") holds its position; an index key
// lists the containers with the time each was last followed, so entries of
// containers that are gone are deleted after a retention time even when
// their removal was never seen.
package checkpoint // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/checkpoint"

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
)

const (
	keyPrefix = "container/"
	indexKey  = "index"
)

// Store reads and writes positions. It is safe for concurrent use.
type Store struct {
	client    storage.Client
	retention time.Duration
	now       func() time.Time

	mu    sync.Mutex
	index map[string]int64 // container ID -> unix seconds it was last followed
}

// Open loads the index and deletes entries not followed for longer than
// retention.
func Open(ctx context.Context, client storage.Client, retention time.Duration) (*Store, error) {
	return openAt(ctx, client, retention, time.Now())
}

func openAt(ctx context.Context, client storage.Client, retention time.Duration, now time.Time) (*Store, error) {
	s := &Store{client: client, retention: retention, now: time.Now, index: map[string]int64{}}
	raw, err := client.Get(ctx, indexKey)
	if err != nil {
		return nil, fmt.Errorf("read position index: %w", err)
	}
	if raw != nil {
		if err := json.Unmarshal(raw, &s.index); err != nil {
			// A damaged index only costs the pruning of old entries.
			s.index = map[string]int64{}
		}
	}
	return s, s.prune(ctx, now)
}

// Load returns the saved position of a container.
func (s *Store) Load(ctx context.Context, id string) (cursor.Position, bool, error) {
	raw, err := s.client.Get(ctx, keyPrefix+id)
	if err != nil || raw == nil {
		return cursor.Position{}, false, err
	}
	var p cursor.Position
	if err := json.Unmarshal(raw, &p); err != nil {
		return cursor.Position{}, false, fmt.Errorf("decode saved position of %s: %w", id, err)
	}
	return p, true, nil
}

// Save writes positions (container ID -> position) and the index in one
// batch.
func (s *Store) Save(ctx context.Context, positions map[string]cursor.Position) error {
	if len(positions) == 0 {
		return nil
	}
	ops := make([]*storage.Operation, 0, len(positions)+1)
	now := s.now().Unix()
	s.mu.Lock()
	for id, p := range positions {
		raw, err := json.Marshal(p)
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("encode position of %s: %w", id, err)
		}
		ops = append(ops, storage.SetOperation(keyPrefix+id, raw))
		s.index[id] = now
	}
	idx, err := json.Marshal(s.index)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	ops = append(ops, storage.SetOperation(indexKey, idx))
	if err := s.client.Batch(ctx, ops...); err != nil {
		return fmt.Errorf("save positions: %w", err)
	}
	return nil
}

// Delete removes the positions of containers that no longer exist.
func (s *Store) Delete(ctx context.Context, ids ...string) error {
	s.mu.Lock()
	ops := make([]*storage.Operation, 0, len(ids)+1)
	for _, id := range ids {
		ops = append(ops, storage.DeleteOperation(keyPrefix+id))
		delete(s.index, id)
	}
	idx, err := json.Marshal(s.index)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	ops = append(ops, storage.SetOperation(indexKey, idx))
	return s.client.Batch(ctx, ops...)
}

func (s *Store) prune(ctx context.Context, now time.Time) error {
	cutoff := now.Add(-s.retention).Unix()
	var old []string
	s.mu.Lock()
	for id, seen := range s.index {
		if seen < cutoff {
			old = append(old, id)
		}
	}
	s.mu.Unlock()
	if len(old) == 0 {
		return nil
	}
	return s.Delete(ctx, old...)
}

// Close closes the storage client.
func (s *Store) Close(ctx context.Context) error {
	return s.client.Close(ctx)
}
