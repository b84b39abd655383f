// Package checkpoint keeps container positions in the collector's storage
// extension, so a restarted collector resumes every container where it
// stopped.
//
// One key per container ("container/<id>") holds its Entry; an index key
// lists the containers with the time each was last seen, so entries of
// containers that are gone are deleted even when their removal was never
// seen, and a restarted collector knows when the previous one last wrote.
// One more key holds the position of the container lifecycle events.
package checkpoint // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/checkpoint"

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/dockerlogsrotating/dockerlogsrotating/internal/cursor"
	"github.com/dockerlogsrotating/dockerlogsrotating/internal/lifecycle"
)

const (
	keyPrefix    = "container/"
	indexKey     = "index"
	lifecycleKey = "lifecycle"
)

// Entry is what is kept of one container.
type Entry struct {
	cursor.Position
	// RunRead is the start (Unix ns, daemon clock) of the container's last
	// run that was read to its end while the container was stopped; 0 when
	// none was. A container whose current run started later has unread
	// lines.
	RunRead int64 `json:"run_read,omitempty"`
}

// Store reads and writes entries. It is safe for concurrent use.
type Store struct {
	client    storage.Client
	retention time.Duration
	now       func() time.Time
	lastWrite time.Time

	// writing serializes writes: each one stores the whole index, so one
	// marshalled before another's change must not land after it.
	writing sync.Mutex

	mu    sync.Mutex
	index map[string]int64 // container ID -> unix seconds it was last seen
}

// Open loads the index. Nothing is pruned until Reconcile is told which
// containers exist.
func Open(ctx context.Context, client storage.Client, retention time.Duration) (*Store, error) {
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
	var last int64
	for _, seen := range s.index {
		last = max(last, seen)
	}
	if last > 0 {
		s.lastWrite = time.Unix(last, 0)
	}
	return s, nil
}

// LastWrite is when the collector that used the store before this one last
// wrote to it (to the second; zero for a new store). A container with no
// entry that started after it started while no collector was running.
func (s *Store) LastWrite() time.Time { return s.lastWrite }

// IDs lists the containers with an entry.
func (s *Store) IDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.index))
	for id := range s.index {
		ids = append(ids, id)
	}
	return ids
}

// Has reports whether the container has an entry.
func (s *Store) Has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.index[id]
	return ok
}

// Load returns the saved entry of a container.
func (s *Store) Load(ctx context.Context, id string) (Entry, bool, error) {
	raw, err := s.client.Get(ctx, keyPrefix+id)
	if err != nil || raw == nil {
		return Entry{}, false, err
	}
	var e Entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return Entry{}, false, fmt.Errorf("decode saved position of %s: %w", id, err)
	}
	return e, true, nil
}

// Save writes entries (container ID -> entry) and the index in one batch.
func (s *Store) Save(ctx context.Context, entries map[string]Entry) error {
	if len(entries) == 0 {
		return nil
	}
	s.writing.Lock()
	defer s.writing.Unlock()
	ops := make([]*storage.Operation, 0, len(entries)+1)
	now := s.now().Unix()
	s.mu.Lock()
	for id, e := range entries {
		raw, err := json.Marshal(e)
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

// Delete removes the entries of containers that no longer exist.
func (s *Store) Delete(ctx context.Context, ids ...string) error {
	s.writing.Lock()
	defer s.writing.Unlock()
	return s.delete(ctx, ids)
}

// delete is Delete with s.writing held.
func (s *Store) delete(ctx context.Context, ids []string) error {
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
	if err := s.client.Batch(ctx, ops...); err != nil {
		return fmt.Errorf("delete positions: %w", err)
	}
	return nil
}

// Reconcile applies a full listing of the daemon's containers: entries of
// containers that no longer exist are deleted; those of selected
// containers are marked seen now, however long they stayed quiet; those of
// containers that exist but are no longer selected are kept for the
// retention time since they were last seen.
func (s *Store) Reconcile(ctx context.Context, exists, selected func(id string) bool) error {
	s.writing.Lock()
	defer s.writing.Unlock()
	now := s.now().Unix()
	cutoff := s.now().Add(-s.retention).Unix()
	var gone []string
	s.mu.Lock()
	for id, seen := range s.index {
		switch {
		case !exists(id) || (!selected(id) && seen < cutoff):
			gone = append(gone, id)
		case selected(id):
			s.index[id] = now
		}
	}
	s.mu.Unlock()
	if len(gone) > 0 {
		return s.delete(ctx, gone) // writes the touched index too
	}
	s.mu.Lock()
	idx, err := json.Marshal(s.index)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := s.client.Set(ctx, indexKey, idx); err != nil {
		return fmt.Errorf("save position index: %w", err)
	}
	return nil
}

// LoadLifecycle returns the saved position of the lifecycle event stream.
func (s *Store) LoadLifecycle(ctx context.Context) (lifecycle.Position, bool, error) {
	raw, err := s.client.Get(ctx, lifecycleKey)
	if err != nil || raw == nil {
		return lifecycle.Position{}, false, err
	}
	var p lifecycle.Position
	if err := json.Unmarshal(raw, &p); err != nil {
		return lifecycle.Position{}, false, fmt.Errorf("decode saved lifecycle event position: %w", err)
	}
	return p, true, nil
}

// SaveLifecycle writes the position of the lifecycle event stream.
func (s *Store) SaveLifecycle(ctx context.Context, p lifecycle.Position) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode lifecycle event position: %w", err)
	}
	if err := s.client.Set(ctx, lifecycleKey, raw); err != nil {
		return fmt.Errorf("save lifecycle event position: %w", err)
	}
	return nil
}

// Close closes the storage client.
func (s *Store) Close(ctx context.Context) error {
	return s.client.Close(ctx)
}
