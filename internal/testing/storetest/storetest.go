// Package storetest provides a storage extension for tests that persists
// every key in its own file, so that positions saved by one process survive
// its death (even SIGKILL) and are read by the next one.
//
//	ext := storetest.NewFileExtension(t.TempDir())
//	id := component.MustNewID("file_storage")
//	cfg.Storage = &id
//	r.Start(ctx, storetest.Host(map[component.ID]component.Component{id: ext}))
//
// Each client (one per component and storage name) owns a directory under
// dir; each key is one file in it. A Set writes a temporary file, fsyncs it,
// renames it over the key's file and fsyncs the directory, so a reader sees
// either the old value or the new one, never a torn write. Batch applies its
// operations in order, each one atomic and durable; the batch as a whole is
// not atomic (a crash in the middle leaves the operations before it done).
package storetest // import "github.com/dockerlogsrotating/dockerlogsrotating/internal/testing/storetest"

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// ErrClosed is returned by a client used after Close.
var ErrClosed = errors.New("storetest: client is closed")

// FileExtension is a storage.Extension backed by files under a directory.
type FileExtension struct {
	dir string

	mu    sync.Mutex
	locks map[string]*sync.Mutex // client directory -> lock shared by its clients
}

var _ storage.Extension = (*FileExtension)(nil)

// NewFileExtension returns a storage extension keeping its data under dir,
// which is created when missing. Start and Shutdown do nothing; data stays
// on disk for the next extension opened on the same dir.
func NewFileExtension(dir string) storage.Extension {
	return &FileExtension{dir: dir, locks: map[string]*sync.Mutex{}}
}

// Start implements component.Component.
func (e *FileExtension) Start(context.Context, component.Host) error { return nil }

// Shutdown implements component.Component.
func (e *FileExtension) Shutdown(context.Context) error { return nil }

// GetClient returns a client whose keys live in the directory
// <dir>/<kind>_<type>_<name>[_<storageName>].
func (e *FileExtension) GetClient(ctx context.Context, kind component.Kind, id component.ID, storageName string) (storage.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir := ClientDir(e.dir, kind, id, storageName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storetest: %w", err)
	}
	e.mu.Lock()
	l := e.locks[dir]
	if l == nil {
		l = &sync.Mutex{}
		e.locks[dir] = l
	}
	e.mu.Unlock()
	return &fileClient{dir: dir, mu: l}, nil
}

// ClientDir returns the directory GetClient uses for a component, for tests
// that look at or damage the stored files.
func ClientDir(dir string, kind component.Kind, id component.ID, storageName string) string {
	name := fmt.Sprintf("%s_%s_%s", strings.ToLower(kind.String()), id.Type(), id.Name())
	if storageName != "" {
		name += "_" + storageName
	}
	return filepath.Join(dir, url.PathEscape(name))
}

// KeyFile returns the file name a key is stored under in a client directory.
func KeyFile(key string) string {
	if n := "k-" + url.PathEscape(key); len(n) <= 200 {
		return n
	}
	sum := sha256.Sum256([]byte(key))
	return "h-" + hex.EncodeToString(sum[:])
}

const tmpPrefix = ".tmp-"

// fileClient is a storage.Client over one directory.
type fileClient struct {
	dir    string
	mu     *sync.Mutex // shared by every client of dir
	closed bool        // guarded by mu
}

var _ storage.Client = (*fileClient)(nil)

func (c *fileClient) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	if err := c.Batch(ctx, op); err != nil {
		return nil, err
	}
	return op.Value, nil
}

func (c *fileClient) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, storage.SetOperation(key, value))
}

func (c *fileClient) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, storage.DeleteOperation(key))
}

// Batch applies ops in order and stops at the first that fails; Get
// operations get their Value set (nil when the key is missing).
func (c *fileClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	for _, op := range ops {
		if err := ctx.Err(); err != nil {
			return err
		}
		if op == nil {
			continue
		}
		var err error
		switch op.Type {
		case storage.Get:
			op.Value, err = c.read(op.Key)
		case storage.Set:
			err = c.write(op.Key, op.Value)
		case storage.Delete:
			err = c.remove(op.Key)
		default:
			err = fmt.Errorf("unknown operation type %d", op.Type)
		}
		if err != nil {
			return fmt.Errorf("storetest: %v %q: %w", opName(op.Type), op.Key, err)
		}
	}
	return nil
}

// Close makes later operations fail with ErrClosed. Other clients of the
// same directory are not affected.
func (c *fileClient) Close(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *fileClient) path(key string) string { return filepath.Join(c.dir, KeyFile(key)) }

func (c *fileClient) read(key string) ([]byte, error) {
	b, err := os.ReadFile(c.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = []byte{} // a stored empty value is not "missing"
	}
	return b, nil
}

func (c *fileClient) write(key string, value []byte) (err error) {
	f, err := os.CreateTemp(c.dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(value); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, c.path(key)); err != nil {
		return err
	}
	return syncDir(c.dir)
}

func (c *fileClient) remove(key string) error {
	err := os.Remove(c.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(c.dir)
}

// syncDir makes a rename or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func opName(t storage.OpType) string {
	switch t {
	case storage.Get:
		return "get"
	case storage.Set:
		return "set"
	case storage.Delete:
		return "delete"
	}
	return fmt.Sprintf("op%d", t)
}

// host is a component.Host with a fixed set of extensions.
type host struct {
	ext map[component.ID]component.Component
}

// Host returns a component.Host whose GetExtensions returns ext.
func Host(ext map[component.ID]component.Component) component.Host {
	return &host{ext: ext}
}

func (h *host) GetExtensions() map[component.ID]component.Component { return h.ext }
