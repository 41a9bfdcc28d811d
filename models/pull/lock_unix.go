//go:build unix

package pull

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockName is the lock file one pull holds in the model directory. It stays
// there: removing it on release would let a third pull lock a fresh file
// while a second still holds the old one.
const lockName = ".edgeinfer-pull.lock"

// lockDir takes dir's pull lock, so two pulls never write the same partial
// file (one could truncate a file the other has just verified and renamed).
func lockDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another pull is writing to %s; wait for it to finish", dir)
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() { f.Close() }, nil // closing the descriptor releases the lock
}
