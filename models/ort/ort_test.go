package ort

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestLibraryPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv(HomeEnv, home)
	t.Setenv(LibEnv, "")
	if got, want := LibraryPath(), filepath.Join(home, "lib", "libonnxruntime.so"); got != want {
		t.Errorf("LibraryPath() = %q, want %q", got, want)
	}
	t.Setenv(LibEnv, "/opt/ort/libonnxruntime.so.1.30.0")
	if got := LibraryPath(); got != "/opt/ort/libonnxruntime.so.1.30.0" {
		t.Errorf("LibraryPath() = %q, want the %s override", got, LibEnv)
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
