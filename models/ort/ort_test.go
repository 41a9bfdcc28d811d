package ort

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine/home"
)

// TestUsePathsWinsOverTheEnvironment: a server started with --home loads the
// runtime from that home even when EDGEINFER_HOME names another.
func TestUsePathsWinsOverTheEnvironment(t *testing.T) {
	t.Setenv(home.HomeEnv, t.TempDir())
	t.Setenv(LibEnv, "")
	saved := paths.Load()
	t.Cleanup(func() { paths.Store(saved) })
	dir := t.TempDir()
	UsePaths(home.Resolve(dir, os.Getenv))
	// LibraryPath itself reports the loaded library once one is loaded, as
	// other tests in this package do; runtimePaths is what Init loads from.
	if got, want := runtimePaths().ORTLib, filepath.Join(dir, "lib", "libonnxruntime.so"); got != want {
		t.Errorf("library to load = %q, want %q", got, want)
	}
	if got, want := CUDADir(), filepath.Join(dir, "lib", "cuda"); got != want {
		t.Errorf("CUDADir() = %q, want %q", got, want)
	}
}

func TestMissingLibraryIsTyped(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{filepath.Join(dir, "libonnxruntime.so"), dir} {
		err := checkLibrary(path)
		var missing *MissingLibraryError
		if !errors.As(err, &missing) || missing.Path != path {
			t.Fatalf("checkLibrary(%s) = %v, want *MissingLibraryError for that path", path, err)
		}
		if !strings.Contains(err.Error(), "make setup") {
			t.Errorf("error %q does not say to run make setup", err)
		}
	}
}
