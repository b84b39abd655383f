package storetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

var testID = component.MustNewIDWithName("dockerlogsrotating", "a")

func client(t *testing.T, ext storage.Extension, name string) storage.Client {
	t.Helper()
	c, err := ext.GetClient(context.Background(), component.KindReceiver, testID, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func get(t *testing.T, c storage.Client, key string) []byte {
	t.Helper()
	v, err := c.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return v
}

func TestSetGetDeleteAndMissingKeys(t *testing.T) {
	ctx := context.Background()
	c := client(t, NewFileExtension(t.TempDir()), "")
	if v := get(t, c, "missing"); v != nil {
		t.Fatalf("missing key: %q, want nil", v)
	}
	keys := []string{"index", "container/0123abcd", "../../escape", ".", "..", "a b%2Fc", strings.Repeat("long/", 100), "ü/\x00"}
	for i, k := range keys {
		if err := c.Set(ctx, k, []byte("value "+strconv.Itoa(i))); err != nil {
			t.Fatalf("set %q: %v", k, err)
		}
	}
	for i, k := range keys {
		if got, want := string(get(t, c, k)), "value "+strconv.Itoa(i); got != want {
			t.Errorf("get %q = %q, want %q", k, got, want)
		}
	}
	// Overwrite, empty value, delete, delete again.
	if err := c.Set(ctx, "index", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got := string(get(t, c, "index")); got != "new" {
		t.Errorf("after overwrite: %q", got)
	}
	if err := c.Set(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if v := get(t, c, "empty"); v == nil || len(v) != 0 {
		t.Errorf("empty value read back as %#v, want a non-nil empty slice", v)
	}
	if err := c.Delete(ctx, "index"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "index"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if v := get(t, c, "index"); v != nil {
		t.Errorf("deleted key reads %q", v)
	}
	// Nothing escaped the client's directory and no temp file is left.
	dir := clientDirOf(t, c)
	if want := ClientDir(filepath.Dir(dir), component.KindReceiver, testID, ""); dir != want {
		t.Fatalf("client uses %s, ClientDir says %s", dir, want)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) || e.IsDir() {
			t.Errorf("unexpected entry %q in the client directory", e.Name())
		}
	}
	if len(entries) != len(keys)-1+1 { // index deleted, empty added
		t.Errorf("%d files, want %d", len(entries), len(keys))
	}
	parent, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(parent) != 1 {
		t.Errorf("extension directory holds %d entries, want only the client directory", len(parent))
	}
}

func clientDirOf(t *testing.T, c storage.Client) string {
	t.Helper()
	fc, ok := c.(*fileClient)
	if !ok {
		t.Fatalf("client is %T", c)
	}
	return fc.dir
}

func TestBatchAppliesOperationsInOrder(t *testing.T) {
	ctx := context.Background()
	c := client(t, NewFileExtension(t.TempDir()), "")
	if err := c.Set(ctx, "a", []byte("old")); err != nil {
		t.Fatal(err)
	}
	getA1, getA2, getB, getC := storage.GetOperation("a"), storage.GetOperation("a"), storage.GetOperation("b"), storage.GetOperation("c")
	err := c.Batch(ctx,
		getA1,
		storage.SetOperation("a", []byte("new")),
		getA2,
		storage.SetOperation("b", []byte("b1")),
		storage.DeleteOperation("b"),
		getB,
		storage.SetOperation("c", []byte("c1")),
		storage.SetOperation("c", []byte("c2")),
		getC,
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		op   *storage.Operation
		want []byte
	}{{getA1, []byte("old")}, {getA2, []byte("new")}, {getB, nil}, {getC, []byte("c2")}} {
		if !bytes.Equal(tc.op.Value, tc.want) || (tc.want == nil) != (tc.op.Value == nil) {
			t.Errorf("get %q in batch = %q, want %q", tc.op.Key, tc.op.Value, tc.want)
		}
	}
	if got := string(get(t, c, "c")); got != "c2" {
		t.Errorf("c = %q after the batch", got)
	}
}

func TestDataSurvivesANewExtensionOnTheSameDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c1 := client(t, NewFileExtension(dir), "")
	if err := c1.Batch(ctx, storage.SetOperation("container/x", []byte(`{"since":1}`)), storage.SetOperation("index", []byte(`{"x":1}`))); err != nil {
		t.Fatal(err)
	}
	// No Close: a process that dies does not close its client.
	c2 := client(t, NewFileExtension(dir), "")
	if got := string(get(t, c2, "container/x")); got != `{"since":1}` {
		t.Errorf("container/x = %q", got)
	}
	if got := string(get(t, c2, "index")); got != `{"x":1}` {
		t.Errorf("index = %q", got)
	}
}

func TestClientsAreSeparatedByComponentAndStorageName(t *testing.T) {
	ctx := context.Background()
	ext := NewFileExtension(t.TempDir())
	a := client(t, ext, "")
	b := client(t, ext, "other")
	other, err := ext.GetClient(ctx, component.KindReceiver, component.MustNewIDWithName("dockerlogsrotating", "b"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Set(ctx, "k", []byte("a")))
	must(b.Set(ctx, "k", []byte("b")))
	must(other.Set(ctx, "k", []byte("other")))
	for c, want := range map[storage.Client]string{a: "a", b: "b", other: "other"} {
		if got := string(get(t, c, "k")); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestClosedClientAndCancelledContextFail(t *testing.T) {
	ext := NewFileExtension(t.TempDir())
	c := client(t, ext, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Set(ctx, "k", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Errorf("set with a cancelled context: %v", err)
	}
	if _, err := ext.GetClient(ctx, component.KindReceiver, testID, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("GetClient with a cancelled context: %v", err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), "k"); !errors.Is(err, ErrClosed) {
		t.Errorf("get after close: %v", err)
	}
	if err := c.Set(context.Background(), "k", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("set after close: %v", err)
	}
	// Another client of the same directory still works.
	c2 := client(t, ext, "")
	if err := c2.Set(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}

func TestWriteFailureIsReportedAndLeavesNoTempFile(t *testing.T) {
	ctx := context.Background()
	c := client(t, NewFileExtension(t.TempDir()), "")
	if err := c.Set(ctx, "k", []byte("old")); err != nil {
		t.Fatal(err)
	}
	// A non-empty directory where the key's file should be: the rename
	// fails (this works as root too, unlike a read-only directory).
	dir := clientDirOf(t, c)
	path := filepath.Join(dir, KeyFile("blocked"))
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.Batch(ctx, storage.SetOperation("blocked", []byte("v")), storage.SetOperation("k", []byte("new"))); err == nil {
		t.Fatal("set over a directory succeeded")
	} else if !strings.Contains(err.Error(), `set "blocked"`) {
		t.Errorf("error does not name the operation: %v", err)
	}
	if got := string(get(t, c, "k")); got != "old" {
		t.Errorf("the operation after the failed one ran: k = %q", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
}

func TestConcurrentClientsDoNotTearValues(t *testing.T) {
	ctx := context.Background()
	ext := NewFileExtension(t.TempDir())
	var wg sync.WaitGroup
	for w := range 4 {
		c := client(t, ext, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				v := value(w*1000+i, 4096)
				if err := c.Set(ctx, "shared", v); err != nil {
					t.Error(err)
					return
				}
				got, err := c.Get(ctx, "shared")
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := check(got); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestHostReturnsTheExtensions(t *testing.T) {
	ext := NewFileExtension(t.TempDir())
	id := component.MustNewID("file_storage")
	h := Host(map[component.ID]component.Component{id: ext})
	got, ok := h.GetExtensions()[id]
	if !ok || got != ext {
		t.Fatalf("GetExtensions()[%v] = %v, %v", id, got, ok)
	}
	if _, ok := got.(storage.Extension); !ok {
		t.Fatal("not a storage.Extension")
	}
	if err := ext.Start(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if err := ext.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// value is a self-checking value: "<n> <crc> " followed by size bytes.
func value(n, size int) []byte {
	payload := bytes.Repeat([]byte{byte('a' + n%26)}, size)
	return fmt.Appendf(nil, "%d %08x %s", n, crc32.ChecksumIEEE(payload), payload)
}

func check(v []byte) (int, error) {
	f := bytes.SplitN(v, []byte(" "), 3)
	if len(f) != 3 {
		return 0, fmt.Errorf("torn value (%d bytes)", len(v))
	}
	n, err := strconv.Atoi(string(f[0]))
	if err != nil {
		return 0, fmt.Errorf("torn value: %v", err)
	}
	if got := fmt.Sprintf("%08x", crc32.ChecksumIEEE(f[2])); got != string(f[1]) {
		return 0, fmt.Errorf("torn value %d: crc %s, want %s", n, got, f[1])
	}
	return n, nil
}

const helperEnv = "STORETEST_HELPER_DIR"

// TestHelperProcessWrites is not a test: re-executed by
// TestSIGKILLDuringWritesLeavesACompleteDurableValue, it writes values
// without end and prints the number of each one whose Set returned.
func TestHelperProcessWrites(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return
	}
	c, err := NewFileExtension(dir).GetClient(context.Background(), component.KindReceiver, testID, "")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(3)
	}
	for n := 1; ; n++ {
		if err := c.Batch(context.Background(), storage.SetOperation("k", value(n, 256<<10)), storage.SetOperation("index", []byte(strconv.Itoa(n)))); err != nil {
			fmt.Println("error", err)
			os.Exit(3)
		}
		fmt.Println(n)
	}
}

// TestSIGKILLDuringWritesLeavesACompleteDurableValue kills a process in the
// middle of its writes: the value read afterwards is whole, and it is at
// least the last one whose Set had returned.
func TestSIGKILLDuringWritesLeavesACompleteDurableValue(t *testing.T) {
	for round := range 3 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessWrites$")
		cmd.Env = append(os.Environ(), helperEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		last := 0
		for sc.Scan() {
			n, err := strconv.Atoi(sc.Text())
			if err != nil {
				t.Fatalf("helper: %s", sc.Text())
			}
			last = n
			if n >= 20+round*7 {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Drain what the child printed before it died.
		for sc.Scan() {
			if n, err := strconv.Atoi(sc.Text()); err == nil {
				last = n
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("helper did not die of SIGKILL: %v", err)
		}
		c := client(t, NewFileExtension(dir), "")
		v := get(t, c, "k")
		n, err := check(v)
		if err != nil {
			t.Fatal(err)
		}
		idx, _ := strconv.Atoi(string(get(t, c, "index")))
		t.Logf("round %d: last acknowledged write %d, stored value %d, stored index %d", round, last, n, idx)
		if n < last || n > last+1 {
			t.Errorf("stored value %d, want %d or %d (the one being written)", n, last, last+1)
		}
		if idx < last || idx > n {
			t.Errorf("stored index %d, want between %d and %d", idx, last, n)
		}
	}
}
