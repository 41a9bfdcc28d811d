// Package home resolves edgeinfer's home directory and the files installed
// under it: the one place that reads EDGEINFER_HOME, EDGEINFER_ORT_LIB,
// EDGEINFER_ORT_CUDA_DIR, EDGEINFER_CUDA_LIBS and EDGEINFER_OLLAMA_BIN.
// Everything else receives the resolved Paths (the engine's config carries
// them to the backends).
//
// Precedence, highest first: the --home flag, EDGEINFER_HOME, the config
// file's home:, ~/.edgeinfer. The file variables override only their own
// file; unset, each file sits at its place under the resolved home.
package home

import (
	"os"
	"path/filepath"
)

// Environment variables read here.
const (
	HomeEnv       = "EDGEINFER_HOME"
	ORTLibEnv     = "EDGEINFER_ORT_LIB"
	ORTCUDADirEnv = "EDGEINFER_ORT_CUDA_DIR"
	OllamaBinEnv  = "EDGEINFER_OLLAMA_BIN"
	CUDALibsEnv   = "EDGEINFER_CUDA_LIBS"
)

// Paths are the directories and files a running edgeinfer uses.
type Paths struct {
	// Home holds models/, lib/, bin/, ollama/ and state/.
	Home string
	// ORTLib is the ONNX Runtime CPU library (home/lib/libonnxruntime.so).
	ORTLib string
	// ORTCUDADir holds the CUDA build of ONNX Runtime (home/lib/cuda).
	ORTCUDADir string
	// OllamaBin is the Ollama server binary edgeinfer runs (home/bin/ollama).
	OllamaBin string
	// CUDALibs lists directories, colon-separated, searched first for the
	// CUDA and cuDNN libraries: library directories, or Python
	// site-packages directories whose nvidia/*/lib hold NVIDIA's pip
	// wheels (EDGEINFER_CUDA_LIBS; none by default).
	CUDALibs string
}

// Default is the home when neither a flag nor a config file names one:
// $EDGEINFER_HOME, else ~/.edgeinfer.
func Default(getenv func(string) string) string {
	if h := getenv(HomeEnv); h != "" {
		return h
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".edgeinfer")
	}
	return ".edgeinfer"
}

// Resolve returns the paths under dir (Default when empty), with the file
// variables applied.
func Resolve(dir string, getenv func(string) string) Paths {
	if dir == "" {
		dir = Default(getenv)
	}
	or := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	return Paths{
		Home:       dir,
		ORTLib:     or(ORTLibEnv, filepath.Join(dir, "lib", "libonnxruntime.so")),
		ORTCUDADir: or(ORTCUDADirEnv, filepath.Join(dir, "lib", "cuda")),
		OllamaBin:  or(OllamaBinEnv, filepath.Join(dir, "bin", "ollama")),
		CUDALibs:   getenv(CUDALibsEnv),
	}
}
