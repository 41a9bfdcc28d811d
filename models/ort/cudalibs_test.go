package ort

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// tree creates empty files (and their directories) under root.
func tree(t *testing.T, root string, files ...string) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestCUDASearchDirs lays out a machine with a CUDA toolkit, a venv with
// NVIDIA's pip wheels (CUDA 13 layout plus a per-library cuDNN wheel), a
// user site-packages and the system directories, and checks the order.
func TestCUDASearchDirs(t *testing.T) {
	root := t.TempDir()
	venv := filepath.Join(root, "opt/torch/.venv")
	extra := filepath.Join(root, "extra")
	tree(t, root,
		"usr/local/cuda/lib64/libcudart.so.13",
		"usr/local/cuda-13.0/targets/x86_64-linux/lib/libcublas.so.13",
		"opt/torch/.venv/bin/python3",
		"opt/torch/.venv/lib/python3.12/site-packages/nvidia/cudnn/lib/libcudnn.so.9",
		"opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcudart.so.13",
		"opt/torch/.venv/lib/python3.12/site-packages/torch/lib/libtorch.so",
		"home/u/.local/lib/python3.11/site-packages/nvidia/cufft/lib/libcufft.so.12",
		"usr/lib/x86_64-linux-gnu/libcuda.so.1",
		"extra/libcurand.so.10",
	)
	got := cudaSearchDirs(extra+string(os.PathListSeparator)+filepath.Join(root, "missing"), envOf(map[string]string{
		"PATH":            filepath.Join(venv, "bin") + ":" + filepath.Join(root, "usr/bin"),
		"HOME":            filepath.Join(root, "home/u"),
		"LD_LIBRARY_PATH": "",
	}), root)
	site := filepath.Join(venv, "lib/python3.12/site-packages")
	want := []string{
		extra,
		filepath.Join(root, "usr/local/cuda/lib64"),
		filepath.Join(root, "usr/local/cuda-13.0/targets/x86_64-linux/lib"),
		filepath.Join(site, "nvidia/cu13/lib"),
		filepath.Join(site, "nvidia/cudnn/lib"),
		filepath.Join(root, "home/u/.local/lib/python3.11/site-packages/nvidia/cufft/lib"),
		filepath.Join(root, "usr/lib/x86_64-linux-gnu"),
		filepath.Join(root, "usr/lib"),
	}
	if archTriple()[1] != "x86_64-linux-gnu" {
		t.Fatalf("this test lays out an x86_64 machine; archTriple is %v", archTriple())
	}
	if !slices.Equal(got, want) {
		t.Errorf("cudaSearchDirs =\n  %v\nwant\n  %v", got, want)
	}
}

func TestFindCUDALibraries(t *testing.T) {
	root := t.TempDir()
	wheels := filepath.Join(root, "site/nvidia/cu13/lib")
	cudnn := filepath.Join(root, "site/nvidia/cudnn/lib")
	system := filepath.Join(root, "usr/lib")
	tree(t, root,
		"site/nvidia/cu13/lib/libcudart.so.13",
		"site/nvidia/cu13/lib/libcublas.so.13",
		"site/nvidia/cu13/lib/libcublasLt.so.13",
		"site/nvidia/cudnn/lib/libcudnn.so.9",
		"site/nvidia/cudnn/lib/libcudnn_graph.so.9",
		"site/nvidia/cudnn/lib/libcudnn_ops.so.9",
		"usr/lib/libcudart.so.13", // shadowed by the earlier directory
		"usr/lib/libcufft.so.12",
	)
	got := findCUDALibraries([]string{wheels, cudnn, system})
	want := []cudaLib{
		{"libcudart.so.13", filepath.Join(wheels, "libcudart.so.13"), true},
		{"libcublasLt.so.13", filepath.Join(wheels, "libcublasLt.so.13"), true},
		{"libcublas.so.13", filepath.Join(wheels, "libcublas.so.13"), true},
		{"libcurand.so.10", "libcurand.so.10", true}, // left to the loader's own search
		{"libcufft.so.12", filepath.Join(system, "libcufft.so.12"), false},
		{"libnvrtc.so.13", "libnvrtc.so.13", false},
		{"libcudnn_graph.so.9", filepath.Join(cudnn, "libcudnn_graph.so.9"), false},
		{"libcudnn_ops.so.9", filepath.Join(cudnn, "libcudnn_ops.so.9"), false},
		{"libcudnn.so.9", filepath.Join(cudnn, "libcudnn.so.9"), true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("findCUDALibraries =\n  %v\nwant\n  %v", got, want)
	}
}
