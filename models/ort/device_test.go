package ort

import (
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseDevice(t *testing.T) {
	for in, want := range map[string]Device{
		"": {}, "cpu": {}, "cuda": {CUDA: true}, "cuda:0": {CUDA: true}, "cuda:3": {CUDA: true, ID: 3},
	} {
		got, err := ParseDevice(in)
		if err != nil || got != want {
			t.Errorf("ParseDevice(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"gpu", "cuda:", "cuda:-1", "cuda:x", "CUDA", "cuda1"} {
		if _, err := ParseDevice(bad); err == nil {
			t.Errorf("ParseDevice(%q) accepted it", bad)
		}
	}
	if s := (Device{CUDA: true}).String(); s != "cuda:0" {
		t.Errorf("cuda device prints as %q", s)
	}
}

func TestCUDAProviderOptions(t *testing.T) {
	for _, tc := range []struct {
		in   CUDAOptions
		want map[string]string
	}{
		{CUDAOptions{}, map[string]string{}},
		{CUDAOptions{GPUMemLimit: 8 << 30, ArenaExtendStrategy: "kSameAsRequested", CuDNNConvAlgoSearch: "HEURISTIC"},
			map[string]string{"gpu_mem_limit": "8589934592", "arena_extend_strategy": "kSameAsRequested", "cudnn_conv_algo_search": "HEURISTIC"}},
		{CUDAOptions{CuDNNConvAlgoSearch: "HEURISTIC", Extra: map[string]string{"use_tf32": "0", "cudnn_conv_algo_search": "DEFAULT"}},
			map[string]string{"use_tf32": "0", "cudnn_conv_algo_search": "DEFAULT"}},
	} {
		if got := tc.in.providerOptions(); !maps.Equal(got, tc.want) {
			t.Errorf("%+v: providerOptions = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestCUDAOptionsValidate(t *testing.T) {
	ok := []CUDAOptions{
		{},
		{GPUMemLimit: 1, ArenaExtendStrategy: "kNextPowerOfTwo", CuDNNConvAlgoSearch: "DEFAULT", Extra: map[string]string{"use_tf32": "0", "prefer_nhwc": "1"}},
	}
	for _, o := range ok {
		if err := o.validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	bad := map[string]CUDAOptions{
		"negative":      {GPUMemLimit: -1},
		"kGrowAlot":     {ArenaExtendStrategy: "kGrowAlot"},
		"heuristic":     {CuDNNConvAlgoSearch: "heuristic"},
		"no_such_thing": {Extra: map[string]string{"no_such_thing": "1"}},
		"device_id":     {Extra: map[string]string{"device_id": "1"}}, // the device is chosen by Options.Device
		"true":          {Extra: map[string]string{"use_tf32": "true"}},
	}
	for want, o := range bad {
		if err := o.validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: validate = %v, want an error naming %q", o, err, want)
		}
	}
}

func TestCUDADeviceByOrdinal(t *testing.T) {
	rt := Runtime{GPUs: 3, Devices: []EPDevice{
		{Provider: CPUProvider, Ordinal: -1},
		{Provider: CUDAProvider, Ordinal: 1, DeviceID: 0xb},
		{Provider: CUDAProvider, Ordinal: 0, DeviceID: 0xa},
	}}
	for id, want := range map[int]uint32{0: 0xa, 1: 0xb} {
		if d, legacy, err := rt.cudaDevice(id); err != nil || legacy || d.DeviceID != want {
			t.Errorf("cudaDevice(%d) = %v, %v, %v; want listed device %x", id, d, legacy, err, want)
		}
	}
	// The driver has a third GPU that ONNX Runtime does not list.
	if _, legacy, err := rt.cudaDevice(2); err != nil || !legacy {
		t.Errorf("cudaDevice(2) = legacy %v, %v; want the legacy path", legacy, err)
	}
	if _, _, err := rt.cudaDevice(3); err == nil || !strings.Contains(err.Error(), "reports 3 GPU(s) and ONNX Runtime lists 2 CUDA device(s)") {
		t.Errorf("cudaDevice(3) = %v, want an error counting the devices", err)
	}
	// Without device_id options, the list order is the CUDA order.
	rt = Runtime{GPUs: 1, Devices: []EPDevice{{Provider: CUDAProvider, Ordinal: -1, DeviceID: 7}}}
	if d, legacy, err := rt.cudaDevice(0); err != nil || legacy || d.DeviceID != 7 {
		t.Errorf("cudaDevice(0) without ordinals = %v, %v, %v", d, legacy, err)
	}
}

func TestPlanCUDA(t *testing.T) {
	installed := t.TempDir()
	tree(t, installed, cudaBuildFiles...)
	// A CUDA build's core exports the CUDA entry point; a CPU build's does not.
	cc(t, installed, "libonnxruntime.so", "void OrtSessionOptionsAppendExecutionProvider_CUDA(void) {}\n")
	cpuCore := t.TempDir()
	tree(t, cpuCore, cudaBuildFiles...)
	cc(t, cpuCore, "libonnxruntime.so", "extern void OrtSessionOptionsAppendExecutionProvider_CUDA(void);\n"+
		"void OrtSessionOptionsAppendExecutionProvider_CPU(void) { OrtSessionOptionsAppendExecutionProvider_CUDA(); }\n")
	libs := t.TempDir()
	tree(t, libs, "libcudart.so.13")
	gpus := func(n int, err error) func() (int, error) { return func() (int, error) { return n, err } }

	for _, tc := range []struct {
		name  string
		dir   string
		count func() (int, error)
		want  string // in the reason; "" means usable
	}{
		{"not installed", t.TempDir(), gpus(1, nil), "make setup GPU=1"},
		{"CPU-only core", cpuCore, gpus(1, nil), "is a CPU-only build of ONNX Runtime"},
		{"no GPU", installed, gpus(0, nil), "no NVIDIA GPU is visible"},
		{"no driver", installed, gpus(0, errors.New("no NVIDIA driver: libcuda.so.1: cannot open")), "no NVIDIA driver"},
		{"usable", installed, gpus(1, nil), ""},
	} {
		plan := planCUDA(tc.dir, tc.count, []string{libs})
		if tc.want == "" {
			if plan.unavailable != "" || plan.gpus != 1 || plan.core != filepath.Join(installed, "libonnxruntime.so") ||
				plan.provider != filepath.Join(installed, "libonnxruntime_providers_cuda.so") ||
				plan.libs[0].path != filepath.Join(libs, "libcudart.so.13") {
				t.Errorf("%s: plan = %+v", tc.name, plan)
			}
			continue
		}
		if !strings.Contains(plan.unavailable, tc.want) {
			t.Errorf("%s: unavailable = %q, want it to contain %q", tc.name, plan.unavailable, tc.want)
		}
	}
}
