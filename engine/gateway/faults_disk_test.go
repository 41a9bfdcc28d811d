package gateway

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
)

// mountTmpfs mounts a tmpfs of size bytes at a new directory. The disk-full
// test needs it (run as root, or where unprivileged tmpfs mounts are
// allowed); it fails rather than skips without it.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("the disk-full test mounts a small tmpfs and could not (run it as root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}

// fill writes to a file on dir's file system until it is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return path
		}
	}
}

// The disk fills while a batch job runs: results that cannot be saved are
// not lost, a job submitted meanwhile is refused with an error that names
// no path, and once space is back every item of the first job completes
// without a restart.
func TestDiskFullDuringBatchWrites(t *testing.T) {
	dir := mountTmpfs(t, 4<<20)
	path := filepath.Join(dir, "state", "gateway.db")
	cfg := testConfig()
	cfg.Gateway.BatchConcurrency = 1
	backend := newFakeBackend()
	backend.gate = make(chan struct{})
	backend.started = make(chan string, 16)
	eng := newEngine(t, cfg, backend)
	store, err := OpenLocal(path, cfg.Gateway.CacheMaxBytes)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	g := New(eng, Options{Config: cfg, Store: store})
	defer g.Close()

	// The fake translation echoes its text, so each result needs pages of
	// its own: the store must grow to save them.
	const model = "@cf/meta/m2m100-1.2b"
	var items []string
	for i := range 6 {
		items = append(items, fmt.Sprintf(`{"text":"item-%d %s","source_lang":"en","target_lang":"fr"}`, i, strings.Repeat("x", 100<<10)))
	}
	st, err := g.Submit(testCtx(t), model, "tok-1", []byte(`{"requests":[`+strings.Join(items, ",")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	<-backend.started // item 0 runs; the disk fills before its result is saved
	filler := fill(t, dir)
	backend.gate <- struct{}{}
	<-backend.started // item 1 starts once item 0's save was tried
	backend.gate <- struct{}{}
	<-backend.started

	if _, err := g.Submit(testCtx(t), model, "tok-1", []byte(`{"requests":[{"text":"while full","source_lang":"en","target_lang":"fr"}]}`)); err == nil {
		t.Error("a job was accepted on a full disk")
	} else if d := engine.Describe(err); d.Status < 500 || strings.Contains(d.Message, dir) {
		t.Errorf("refused on a full disk with %d %q, want a 5xx that names no path", d.Status, d.Message)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	backend.started = nil
	close(backend.gate)
	res := waitResult(t, g, model, "tok-1", st.RequestID)
	if len(res.Responses) != len(items) {
		t.Fatalf("%d responses for %d items", len(res.Responses), len(items))
	}
	for i, r := range res.Responses {
		if !r.Success {
			t.Errorf("item %d lost or failed: %+v", i, r.Error)
		}
	}
}
