package ort

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/edgeinfer/edgeinfer/engine/home"
	onnx "github.com/yalue/onnxruntime_go"
)

// CUDADirEnv overrides where the CUDA build of ONNX Runtime is installed
// (resolved by package home).
const CUDADirEnv = home.ORTCUDADirEnv

// cudaBuildFiles make an installed CUDA build: one version's core library
// and provider libraries, side by side (the core loads the providers from
// its own directory).
var cudaBuildFiles = []string{"libonnxruntime.so", "libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"}

// CUDADir is where the CUDA build of ONNX Runtime lives:
// $EDGEINFER_ORT_CUDA_DIR, else $EDGEINFER_HOME/lib/cuda (`make setup GPU=1`).
func CUDADir() string { return runtimePaths().ORTCUDADir }

// Runtime describes the ONNX Runtime library this process loaded.
type Runtime struct {
	// Library is the path of the loaded core library, Version its version.
	Library, Version string
	// CUDA is true when CUDA sessions can be opened: the CUDA build is
	// loaded, its provider too, and the driver reports a GPU.
	CUDA bool
	// CUDAUnavailable says why CUDA sessions cannot be opened; empty when
	// they can.
	CUDAUnavailable string
	// CUDARoute is how CUDA sessions add the provider (see CUDARouteEnv);
	// empty when the CUDA build is not loaded.
	CUDARoute string
	// CUDANote qualifies a usable CUDA: set when sessions add the provider
	// through its legacy options, which ignore CUDAOptions.Extra.
	CUDANote string
	// GPUs is the number of devices the NVIDIA driver reports.
	GPUs int
	// CUDALibraries are the CUDA and cuDNN libraries preloaded for the
	// CUDA provider.
	CUDALibraries []string
	// Devices are the execution-provider devices the runtime lists.
	Devices []EPDevice
}

// cudaDevice finds CUDA device id among the listed devices. legacy is true
// when it is not listed but the driver has it: sessions then add the
// provider through its legacy options.
func (r Runtime) cudaDevice(id int) (d EPDevice, legacy bool, err error) {
	var cuda []EPDevice
	for _, d := range r.Devices {
		if d.Provider == CUDAProvider {
			cuda = append(cuda, d)
		}
	}
	for i, d := range cuda {
		// The provider numbers its devices; without that, list order is the CUDA order.
		if d.Ordinal == id || (d.Ordinal < 0 && i == id) {
			return d, false, nil
		}
	}
	if id < r.GPUs {
		return EPDevice{}, true, nil
	}
	return EPDevice{}, false, fmt.Errorf("cuda:%d requested, but the driver reports %d GPU(s) and ONNX Runtime lists %d CUDA device(s)", id, r.GPUs, len(cuda))
}

var (
	wantCUDA atomic.Bool
	// loaded is set by Init; api too, when the CUDA build is usable.
	loaded atomic.Pointer[Runtime]
	api    *epAPI
)

// PreferCUDA asks for the CUDA build of ONNX Runtime, used when it is
// installed and an NVIDIA GPU is visible; it runs CPU sessions as well.
// A process loads one library, once, at Init, so this only counts before
// the first session opens: the server calls it with whether any model is
// configured for CUDA. A session opened for a CUDA device before Init
// implies it.
func PreferCUDA(want bool) { wantCUDA.Store(want) }

// RuntimeInfo describes the loaded runtime; it initializes it if needed.
func RuntimeInfo() (Runtime, error) {
	if err := Init(); err != nil {
		return Runtime{}, err
	}
	return *loaded.Load(), nil
}

// cudaPlan is what loading the CUDA build takes, or why it cannot be.
type cudaPlan struct {
	core, provider string
	libs           []cudaLib
	gpus           int
	unavailable    string
}

// planCUDA checks the installed CUDA build, counts the GPUs with
// deviceCount, and resolves the CUDA libraries in dirs.
func planCUDA(dir string, deviceCount func() (int, error), dirs []string) cudaPlan {
	var missing []string
	for _, f := range cudaBuildFiles {
		if !isFile(filepath.Join(dir, f)) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return cudaPlan{unavailable: fmt.Sprintf("the CUDA build of ONNX Runtime is not installed in %s (missing %s): run `make setup GPU=1` or set %s",
			dir, strings.Join(missing, ", "), CUDADirEnv)}
	}
	core := filepath.Join(dir, "libonnxruntime.so")
	if err := checkCUDACore(core); err != nil {
		return cudaPlan{unavailable: err.Error()}
	}
	n, err := deviceCount()
	if err != nil {
		return cudaPlan{unavailable: err.Error()}
	}
	if n == 0 {
		return cudaPlan{unavailable: "no NVIDIA GPU is visible (the driver reports none; check CUDA_VISIBLE_DEVICES)"}
	}
	return cudaPlan{
		core:     core,
		provider: filepath.Join(dir, "libonnxruntime_providers_cuda.so"),
		libs:     findCUDALibraries(dirs),
		gpus:     n,
	}
}

// loadRuntime loads the CPU build, or the CUDA build when wanted and
// usable. A CUDA build that cannot serve CUDA (provider not loadable) stays
// loaded: it runs CPU sessions like the CPU build.
func loadRuntime(want bool) (Runtime, error) {
	if !want {
		return loadCPU("no model asked for CUDA when ONNX Runtime was loaded")
	}
	route, err := cudaRoute(os.Getenv)
	if err != nil {
		return loadCPU(err.Error())
	}
	plan := planCUDA(CUDADir(), func() (int, error) { return cudaDeviceCount("libcuda.so.1") }, cudaSearchDirs(runtimePaths().CUDALibs, os.Getenv, "/"))
	if plan.unavailable != "" {
		return loadCPU(plan.unavailable)
	}
	preloaded, err := preload(plan.libs)
	if err != nil {
		return loadCPU(err.Error() + fmt.Sprintf(" (searched %s, LD_LIBRARY_PATH, the CUDA toolkit, Python site-packages and the system directories; add directories with %s)", CUDALibsEnv, CUDALibsEnv))
	}
	version, err := load(plan.core)
	if err != nil {
		return loadCPU(fmt.Sprintf("the CUDA build failed to load: %v", err))
	}
	rt := Runtime{Library: plan.core, Version: version, GPUs: plan.gpus, CUDALibraries: preloaded}
	if route == RouteEPDevice {
		// Registered under the provider's own name, as ONNX Runtime's tests
		// do: some of its code matches provider-bridge libraries by that name.
		err = onnx.RegisterExecutionProviderLibrary(CUDAProvider, plan.provider)
	} else {
		// The options routes leave the provider to the core, which loads it
		// from its own directory; registering it too would initialize the
		// same library twice.
		err = probeCUDAProvider()
	}
	if err != nil {
		rt.CUDAUnavailable = fmt.Sprintf("the CUDA provider failed to load: %v", err)
		return rt, nil
	}
	a, err := newEPAPI(plan.core)
	if err == nil {
		rt.Devices, err = a.devices()
	}
	if err != nil {
		rt.CUDAUnavailable = err.Error()
		return rt, nil
	}
	switch {
	case route == RouteLegacy:
		rt.CUDANote = fmt.Sprintf("%s=%s: CUDA sessions use the provider's legacy options, which cannot pass extra provider options", CUDARouteEnv, route)
	case route == RouteEPDevice && !slices.ContainsFunc(rt.Devices, func(d EPDevice) bool { return d.Provider == CUDAProvider }):
		// ONNX Runtime discovers GPUs through /sys/class/drm, which lacks
		// NVIDIA GPUs without the nvidia-drm kernel module.
		rt.CUDANote = fmt.Sprintf("ONNX Runtime lists no CUDA device (only %v): CUDA sessions use the provider's legacy options, which cannot pass extra provider options", rt.Devices)
	}
	rt.CUDA, rt.CUDARoute, api = true, route, a
	return rt, nil
}

// cudaCoreSymbol is exported only by core libraries built with CUDA.
const cudaCoreSymbol = "OrtSessionOptionsAppendExecutionProvider_CUDA"

// checkCUDACore refuses a core library built without CUDA. Such a core
// still takes the CUDA provider as a provider-bridge library through the
// EP device route, lists the GPU and opens sessions, but the process then
// crashes in the first Run of a real model: on an H200 with the CPU-only
// ORT 1.29.0 core, a lone MatMul ran and BGE-base died of SIGSEGV inside
// libonnxruntime.so (benchmarks/results/gpu-check-h200.txt). The options
// routes are refused by such a core outright ("CUDA execution provider is
// not enabled in this build").
func checkCUDACore(core string) error {
	f, err := elf.Open(core)
	if err != nil {
		return fmt.Errorf("the CUDA build's core library %s is unreadable: %v", core, err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return fmt.Errorf("the CUDA build's core library %s has no dynamic symbols: %v", core, err)
	}
	if !slices.ContainsFunc(syms, func(s elf.Symbol) bool { return s.Name == cudaCoreSymbol && s.Section != elf.SHN_UNDEF }) {
		return fmt.Errorf("%s is a CPU-only build of ONNX Runtime (it does not export %s), with which the CUDA provider crashes: "+
			"install the core of a CUDA build of the provider's version beside it (e.g. onnxruntime-node's libonnxruntime.so.1)", core, cudaCoreSymbol)
	}
	return nil
}

func loadCPU(cudaUnavailable string) (Runtime, error) {
	version, err := load(LibraryPath())
	if err != nil {
		return Runtime{}, err
	}
	return Runtime{Library: LibraryPath(), Version: version, CUDAUnavailable: cudaUnavailable}, nil
}
