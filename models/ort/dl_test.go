package ort

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cc builds a shared library from C source with the system compiler (the
// toolchain `make setup` requires), giving it soname.
func cc(t *testing.T, dir, soname, source string, linkArgs ...string) string {
	t.Helper()
	src := filepath.Join(dir, soname+".c")
	if err := os.WriteFile(src, []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, soname)
	args := append([]string{"-shared", "-fPIC", "-o", out, "-Wl,-soname," + soname, src}, linkArgs...)
	if b, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s (install a C toolchain: `make setup` needs one)", soname, err, b)
	}
	return out
}

// TestPreloadResolvesDependenciesOutsideTheLoaderPath builds a library that
// needs another, both in a directory the loader does not search, and
// preloads them in the wrong order: the retry loads the dependency first,
// and afterwards opening the dependent by soname alone succeeds, which is
// what ONNX Runtime's CUDA provider does with cuDNN.
func TestPreloadResolvesDependenciesOutsideTheLoaderPath(t *testing.T) {
	dir := t.TempDir()
	// Names unique to this run: a loaded library stays loaded for the process.
	tag := strings.ReplaceAll(filepath.Base(dir), "-", "")
	dep := cc(t, dir, "libeidep"+tag+".so.1", "int ei_dep_value(void) { return 42; }")
	user := cc(t, dir, "libeiuser"+tag+".so.1", "int ei_dep_value(void); int ei_user_value(void) { return ei_dep_value() + 1; }",
		"-L"+dir, "-l:"+filepath.Base(dep))
	missing := filepath.Join(dir, "libeimissing.so.1")

	loaded, err := preload([]cudaLib{
		{soname: filepath.Base(user), path: user, required: true},
		{soname: filepath.Base(dep), path: dep, required: true},
		{soname: "libeioptional.so.1", path: missing, required: false},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{dep, user}; fmt.Sprint(loaded) != fmt.Sprint(want) {
		t.Errorf("loaded %v, want %v", loaded, want)
	}
	if _, err := dlopenGlobal(filepath.Base(user)); err != nil {
		t.Errorf("after preloading, opening by soname failed: %v", err)
	}

	_, err = preload([]cudaLib{{soname: "libeimissing.so.1", path: missing, required: true}})
	if err == nil || !strings.Contains(err.Error(), "libeimissing.so.1") {
		t.Errorf("a missing required library gave %v, want an error naming it", err)
	}
}

// TestCUDADeviceCount drives the driver probe with fake libcuda builds.
func TestCUDADeviceCount(t *testing.T) {
	dir := t.TempDir()
	tag := strings.ReplaceAll(filepath.Base(dir), "-", "")
	driver := func(name string, initResult, count int) string {
		return cc(t, dir, "libeicuda"+name+tag+".so.1", fmt.Sprintf(`
int cuInit(unsigned int flags) { return %d; }
int cuDeviceGetCount(int *n) { *n = %d; return 0; }
int cuGetErrorName(int rc, const char **name) { *name = rc == 999 ? "CUDA_ERROR_UNKNOWN" : "OTHER"; return 0; }
`, initResult, count))
	}
	for _, tc := range []struct {
		name      string
		path      string
		want      int
		wantError string
	}{
		{"two GPUs", driver("two", 0, 2), 2, ""},
		{"no device", driver("none", 100, 0), 0, ""},
		{"broken driver", driver("broken", 999, 0), 0, "CUDA_ERROR_UNKNOWN (999)"},
		{"no driver", filepath.Join(dir, "libcuda.so.1"), 0, "no NVIDIA driver"},
		{"not a driver", cc(t, dir, "libeinotcuda"+tag+".so.1", "int unrelated(void) { return 0; }"), 0, "lacks cuInit"},
	} {
		got, err := cudaDeviceCount(tc.path)
		if got != tc.want || (tc.wantError == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantError)) {
			t.Errorf("%s: cudaDeviceCount = %d, %v; want %d and an error containing %q", tc.name, got, err, tc.want, tc.wantError)
		}
	}
}
