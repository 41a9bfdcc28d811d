package ort

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine/home"
)

// CUDALibsEnv lists extra directories (colon-separated) to search first for
// the CUDA and cuDNN libraries (resolved by package home).
const CUDALibsEnv = home.CUDALibsEnv

// cudaLibrary is one library the CUDA execution provider needs at run time.
type cudaLibrary struct {
	soname   string
	required bool
}

// cudaLibraries are what ORT 1.29's CUDA provider (CUDA 13, cuDNN 9) needs,
// dependencies first. It links cudart, cublasLt, cublas and curand, and
// opens cuDNN and cuFFT with dlopen when a session needs them. cuDNN's
// sub-libraries (libcudnn_*.so.9) are added from the directory that holds
// libcudnn.so.9.
var cudaLibraries = []cudaLibrary{
	{"libcudart.so.13", true},
	{"libcublasLt.so.13", true},
	{"libcublas.so.13", true},
	{"libcurand.so.10", true},
	{"libcufft.so.12", false},
	{"libnvrtc.so.13", false}, // cuDNN's runtime-compiled engines
	{"libcudnn.so.9", true},
}

// cudaLib is a library to preload: an absolute path, or a bare soname for
// the dynamic loader's own search (ldconfig's cache) when no searched
// directory holds it.
type cudaLib struct {
	soname   string
	path     string
	required bool
}

// findCUDALibraries resolves cudaLibraries against dirs, in order: the
// first directory holding a library wins.
func findCUDALibraries(dirs []string) []cudaLib {
	var libs []cudaLib
	for _, want := range cudaLibraries {
		lib := cudaLib{soname: want.soname, path: want.soname, required: want.required}
		for _, dir := range dirs {
			if p := filepath.Join(dir, want.soname); isFile(p) {
				lib.path = p
				break
			}
		}
		if want.soname == "libcudnn.so.9" && filepath.IsAbs(lib.path) {
			subs, _ := filepath.Glob(filepath.Join(filepath.Dir(lib.path), "libcudnn_*.so.9"))
			slices.Sort(subs)
			for _, p := range subs {
				libs = append(libs, cudaLib{soname: filepath.Base(p), path: p})
			}
		}
		libs = append(libs, lib)
	}
	return libs
}

// cudaSearchDirs lists the existing directories that may hold CUDA and
// cuDNN libraries, most specific first: extra (the colon-separated
// home.Paths.CUDALibs), then LD_LIBRARY_PATH, the CUDA toolkit, Python environments (NVIDIA's pip
// wheels install under site-packages/nvidia/<name>/lib; CUDA 13's under
// nvidia/cu13/lib), and the system library directories. root prefixes the
// fixed system paths, for tests.
func cudaSearchDirs(extra string, getenv func(string) string, root string) []string {
	var dirs []string
	add := func(paths ...string) {
		for _, p := range paths {
			if p != "" && isDir(p) && !slices.Contains(dirs, p) {
				dirs = append(dirs, p)
			}
		}
	}
	addSitePackages := func(site string) {
		wheels, _ := filepath.Glob(filepath.Join(site, "nvidia", "*", "lib"))
		// CUDA 13 wheels share nvidia/cu13/lib; older per-library ones
		// (nvidia/cudnn/lib, …) follow in name order.
		slices.SortStableFunc(wheels, func(a, b string) int {
			return boolRank(strings.Contains(a, "/cu13/")) - boolRank(strings.Contains(b, "/cu13/"))
		})
		add(wheels...)
	}
	for _, d := range filepath.SplitList(extra) {
		add(d)
		addSitePackages(d)
	}
	add(filepath.SplitList(getenv("LD_LIBRARY_PATH"))...)

	for _, home := range []string{getenv("CUDA_HOME"), getenv("CUDA_PATH")} {
		if home != "" {
			add(filepath.Join(home, "lib64"), filepath.Join(home, "lib"))
		}
	}
	toolkits, _ := filepath.Glob(filepath.Join(root, "/usr/local/cuda-13*"))
	slices.Reverse(toolkits) // newest minor version first
	for _, tk := range append([]string{filepath.Join(root, "/usr/local/cuda")}, toolkits...) {
		add(filepath.Join(tk, "lib64"), filepath.Join(tk, "targets", archTriple()[0]+"-linux", "lib"))
	}

	for _, site := range sitePackages(getenv, root) {
		addSitePackages(site)
	}

	add(filepath.Join(root, "/usr/lib", archTriple()[1]), filepath.Join(root, "/usr/lib64"), filepath.Join(root, "/usr/lib"))
	return dirs
}

// sitePackages lists candidate Python site-packages directories: the
// active virtualenv or conda environment, the environment of each python3
// on PATH (a venv's bin/python3 sits beside its lib/python3.X), the
// user's, and the system's.
func sitePackages(getenv func(string) string, root string) []string {
	var prefixes []string
	prefixes = append(prefixes, getenv("VIRTUAL_ENV"), getenv("CONDA_PREFIX"))
	for _, dir := range filepath.SplitList(getenv("PATH")) {
		if dir != "" && isFile(filepath.Join(dir, "python3")) {
			prefixes = append(prefixes, filepath.Dir(dir))
		}
	}
	if home := getenv("HOME"); home != "" {
		prefixes = append(prefixes, filepath.Join(home, ".local"))
	}
	prefixes = append(prefixes, filepath.Join(root, "/usr/local"), filepath.Join(root, "/usr"))
	var sites []string
	for _, prefix := range prefixes {
		if prefix == "" {
			continue
		}
		for _, pattern := range []string{"lib/python3*/site-packages", "lib/python3*/dist-packages", "lib/python3/dist-packages"} {
			found, _ := filepath.Glob(filepath.Join(prefix, pattern))
			slices.Reverse(found) // newest Python first
			sites = append(sites, found...)
		}
	}
	return sites
}

// archTriple is the CUDA target name and Debian multiarch directory of this
// machine.
func archTriple() [2]string {
	if runtime.GOARCH == "arm64" {
		return [2]string{"sbsa", "aarch64-linux-gnu"}
	}
	return [2]string{"x86_64", "x86_64-linux-gnu"}
}

func boolRank(b bool) int {
	if b {
		return 0
	}
	return 1
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
