package ort

import (
	"strings"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"
)

func TestCUDARoute(t *testing.T) {
	for _, tc := range []struct {
		env, want, err string
	}{
		{"", DefaultCUDARoute, ""},
		{"cuda-v2", RouteCUDAOptionsV2, ""},
		{"v2", RouteEPDevice, ""},
		{"v1", RouteLegacy, ""},
		{"V2", "", `EDGEINFER_ORT_CUDA_ROUTE="V2"`},
		{"tensorrt", "", "want one of [cuda-v2 v2 v1]"},
	} {
		got, err := cudaRoute(func(k string) string {
			if k == CUDARouteEnv {
				return tc.env
			}
			return ""
		})
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s=%q: got %q, %v; want %q, error containing %q", CUDARouteEnv, tc.env, got, err, tc.want, tc.err)
		}
	}
	if CUDARoutes[0] != DefaultCUDARoute {
		t.Errorf("CUDARoutes %v does not start with the default %s", CUDARoutes, DefaultCUDARoute)
	}
}

// TestCUDAOptionsV2Route adds the provider through OrtCUDAProviderOptionsV2
// to session options of the loaded runtime: on a CUDA build with a GPU it
// succeeds; on the CPU build it must be an error naming the provider, not a
// crash.
func TestCUDAOptionsV2Route(t *testing.T) {
	rt := requireRuntime(t)
	so, err := onnx.NewSessionOptions()
	if err != nil {
		t.Fatal(err)
	}
	defer so.Destroy()
	err = appendCUDAOptionsV2(so, 0, CUDAOptions{Extra: map[string]string{"use_tf32": "0"}})
	switch {
	case rt.CUDA && err != nil:
		t.Fatalf("CUDA runtime %+v, but adding the provider failed: %v", rt, err)
	case !rt.CUDA && (err == nil || !strings.Contains(err.Error(), CUDAProvider)):
		t.Fatalf("the runtime has no CUDA (%s), but adding the provider gave %v", rt.CUDAUnavailable, err)
	}
}
