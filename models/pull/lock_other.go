//go:build !unix

package pull

import "os"

const lockName = ".edgeinfer-pull.lock"

// lockDir only creates dir off Unix, where edgeinfer's supported setup does
// not run: concurrent pulls of one model are not guarded there.
func lockDir(dir string) (release func(), err error) {
	return func() {}, os.MkdirAll(dir, 0o755)
}
