package ort

import (
	"fmt"
	"slices"
	"strconv"

	onnx "github.com/yalue/onnxruntime_go"
)

// CUDARouteEnv chooses how CUDA sessions add ONNX Runtime's CUDA execution
// provider: one of CUDARoutes, default DefaultCUDARoute.
const CUDARouteEnv = "EDGEINFER_ORT_CUDA_ROUTE"

// The ways into the CUDA execution provider, as EDGEINFER_ORT_CUDA_ROUTE
// names them after the ONNX Runtime functions they use.
const (
	// RouteCUDAOptionsV2 appends the provider with an
	// OrtCUDAProviderOptionsV2 filled from string options
	// (SessionOptionsAppendExecutionProvider_CUDA_V2). The core library
	// loads the provider from its own directory; every CUDAOptions field
	// and Extra option reaches the provider.
	RouteCUDAOptionsV2 = "cuda-v2"
	// RouteEPDevice registers the provider library with the environment
	// and appends the CUDA device it lists
	// (SessionOptionsAppendExecutionProvider_V2), falling back to
	// RouteLegacy for a GPU that ONNX Runtime does not list.
	RouteEPDevice = "v2"
	// RouteLegacy appends the provider with the V1 OrtCUDAProviderOptions
	// struct (SessionOptionsAppendExecutionProvider_CUDA), which has no
	// room for Extra options: they are ignored.
	RouteLegacy = "v1"
)

// CUDARoutes lists the routes, DefaultCUDARoute first.
var CUDARoutes = []string{RouteCUDAOptionsV2, RouteEPDevice, RouteLegacy}

// DefaultCUDARoute is the route used unless EDGEINFER_ORT_CUDA_ROUTE says
// otherwise: the one ONNX Runtime's own language bindings take into a CUDA
// build. On an H200 with a CPU-only 1.29.0 core (which checkCUDACore now
// refuses) only the EP-device route opened sessions, and it crashed on
// BGE-base; no route has yet run there with a CUDA-enabled core.
const DefaultCUDARoute = RouteCUDAOptionsV2

// cudaRoute reads the route from the environment.
func cudaRoute(getenv func(string) string) (string, error) {
	r := getenv(CUDARouteEnv)
	if r == "" {
		return DefaultCUDARoute, nil
	}
	if !slices.Contains(CUDARoutes, r) {
		return "", fmt.Errorf("%s=%q: want one of %v", CUDARouteEnv, r, CUDARoutes)
	}
	return r, nil
}

// probeCUDAProvider makes the loaded core load its CUDA provider, as the
// first CUDA session of the options routes would, so a provider that cannot
// load (a missing CUDA library) is reported when the runtime loads rather
// than on every session. Updating provider options is the cheapest call
// that loads it.
func probeCUDAProvider() error {
	opts, err := onnx.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer opts.Destroy()
	return opts.Update(map[string]string{"device_id": "0"})
}

// appendCUDAOptionsV2 adds the CUDA provider for device id to so through
// OrtCUDAProviderOptionsV2. ONNX Runtime copies the options into the
// provider factory it creates here, so they are released at once.
func appendCUDAOptionsV2(so *onnx.SessionOptions, id int, o CUDAOptions) error {
	opts, err := onnx.NewCUDAProviderOptions()
	if err != nil {
		return fmt.Errorf("ort: add %s: %w", CUDAProvider, err)
	}
	defer opts.Destroy()
	values := o.providerOptions()
	values["device_id"] = strconv.Itoa(id)
	if err := opts.Update(values); err != nil {
		return fmt.Errorf("ort: add %s: options %v: %w", CUDAProvider, values, err)
	}
	if err := so.AppendExecutionProviderCUDA(opts); err != nil {
		return fmt.Errorf("ort: add %s: %w", CUDAProvider, err)
	}
	return nil
}
