package pull_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mountTmpfs mounts a tmpfs of size bytes; the disk-full test needs it (run
// as root) and fails rather than skips without it.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("the disk-full test mounts a small tmpfs and could not (run it as root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}

// A pull onto a disk too small for the model fails saying the disk is full,
// installs nothing, and names no path beyond the model's files; once space
// is made the same pull completes, with no restart.
func TestDiskFullDuringPull(t *testing.T) {
	h, files := newHub(t)
	var total int64
	for _, f := range files {
		total += int64(len(f.Data))
	}
	mnt := mountTmpfs(t, total/2)
	dir := filepath.Join(mnt, "model")
	req := request(t, dir, "")
	p := newPuller(h)

	_, err := p.Pull(pullCtx(t), req)
	if err == nil {
		t.Fatalf("a %d-byte model pulled onto a %d-byte disk", total, total/2)
	}
	t.Logf("pull onto a full disk: %v", err)
	if !strings.Contains(err.Error(), "no space left") {
		t.Errorf("the error does not say the disk is full: %v", err)
	}
	for _, f := range req.Files {
		if _, statErr := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); statErr == nil {
			t.Errorf("%s installed by a pull that ran out of space", f)
		}
	}

	if out, err := exec.Command("mount", "-o", fmt.Sprintf("remount,size=%d", 4*total), mnt).CombinedOutput(); err != nil {
		t.Fatalf("growing the tmpfs: %v: %s", err, out)
	}
	if _, err := p.Pull(pullCtx(t), req); err != nil {
		t.Fatalf("the pull after space was made: %v", err)
	}
	assertInstalled(t, req, files)
}
