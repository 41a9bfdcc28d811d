// Package ort is edgeinfer's glue to ONNX Runtime: it finds and loads the
// shared library once per process, and opens sessions that bind inputs and
// outputs by the names the model declares.
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/edgeinfer/edgeinfer/engine/home"
	onnx "github.com/yalue/onnxruntime_go"
)

// LibEnv overrides the path of libonnxruntime.so (resolved by package home).
const LibEnv = home.ORTLibEnv

// MissingLibraryError reports that the ONNX Runtime shared library is not
// where edgeinfer looks for it.
type MissingLibraryError struct {
	Path string
}

func (e *MissingLibraryError) Error() string {
	return fmt.Sprintf("ONNX Runtime not found at %s: run `make setup` (or set %s)", e.Path, LibEnv)
}

// paths locate the runtime: set by UsePaths, else the defaults of package
// home (for tests and tools that build no engine config).
var paths atomic.Pointer[home.Paths]

// UsePaths tells the runtime where its libraries are: the paths the
// engine's config resolved (--home, home:, the EDGEINFER_* variables).
// Call it before Init; the library loads once per process.
func UsePaths(p home.Paths) { paths.Store(&p) }

func runtimePaths() home.Paths {
	if p := paths.Load(); p != nil {
		return *p
	}
	return home.Resolve("", os.Getenv)
}

// LibraryPath is where Init loads the CPU library from; once a runtime is
// loaded, the library it loaded (one per process, whatever UsePaths says
// later).
func LibraryPath() string {
	if initDone.Load() && initErr == nil {
		if rt := loaded.Load(); rt != nil && rt.Library != "" {
			return rt.Library
		}
	}
	return runtimePaths().ORTLib
}

var (
	initMu   sync.Mutex
	initDone atomic.Bool
	initErr  error
)

// ErrInit marks a library that exists but could not be loaded as ONNX
// Runtime (another build, a broken download).
var ErrInit = errors.New("ONNX Runtime could not be loaded")

// Init loads the library and creates the process-wide ONNX Runtime
// environment: the CUDA build when PreferCUDA asked for it and it can run
// (see CUDADir), else the CPU build at LibraryPath. Once it succeeds, every
// call returns at once. A failure that left no library loaded is retried by
// the next call, so installing the library (make setup) needs no restart.
func Init() error {
	if initDone.Load() {
		return initErr
	}
	initMu.Lock()
	defer initMu.Unlock()
	if initDone.Load() {
		return initErr
	}
	rt, err := loadRuntime(wantCUDA.Load())
	loaded.Store(&rt)
	initErr = err
	// A failed dlopen or API lookup closes the library again; only a
	// half-initialized environment cannot be loaded twice.
	initDone.Store(err == nil || onnx.IsInitialized())
	return initErr
}

// Version is the loaded runtime's version (e.g. "1.30.0"), empty before a
// successful Init.
func Version() string {
	if Init() != nil {
		return ""
	}
	return loaded.Load().Version
}

// ExpectedVersion reads the version that setup recorded beside the loaded
// library (onnxruntime.version), empty if there is none. Before Init it
// reads the one beside LibraryPath.
func ExpectedVersion() string {
	lib := LibraryPath()
	if rt := loaded.Load(); rt != nil && rt.Library != "" {
		lib = rt.Library
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(lib), "onnxruntime.version"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func load(path string) (string, error) {
	if err := checkLibrary(path); err != nil {
		return "", err
	}
	onnx.SetSharedLibraryPath(path)
	// Error level: ORT's warnings (unused initializers, thread affinity) are
	// noise for a server, and real failures come back as errors anyway.
	if err := onnx.InitializeEnvironment(onnx.WithLogLevelError()); err != nil {
		return "", fmt.Errorf("ort: %w from %s: %w", ErrInit, path, err)
	}
	return onnx.GetVersion(), nil
}

// checkLibrary turns a missing file into MissingLibraryError before cgo's
// dlopen reports it in its own words.
func checkLibrary(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && st.IsDir()) {
		return &MissingLibraryError{Path: path}
	}
	if err != nil {
		return fmt.Errorf("ort: %w", err)
	}
	return nil
}
