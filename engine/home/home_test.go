package home

import (
	"path/filepath"
	"testing"
)

func TestResolve(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	for _, c := range []struct {
		name string
		dir  string
		env  map[string]string
		want Paths
	}{
		{"everything under the given home", "/h", nil,
			Paths{Home: "/h", ORTLib: "/h/lib/libonnxruntime.so", ORTCUDADir: "/h/lib/cuda", OllamaBin: "/h/bin/ollama"}},
		{"the given home wins over EDGEINFER_HOME", "/h", map[string]string{HomeEnv: "/env"},
			Paths{Home: "/h", ORTLib: "/h/lib/libonnxruntime.so", ORTCUDADir: "/h/lib/cuda", OllamaBin: "/h/bin/ollama"}},
		{"EDGEINFER_HOME when none is given", "", map[string]string{HomeEnv: "/env"},
			Paths{Home: "/env", ORTLib: "/env/lib/libonnxruntime.so", ORTCUDADir: "/env/lib/cuda", OllamaBin: "/env/bin/ollama"}},
		{"file variables override their own file only", "/h", map[string]string{ORTLibEnv: "/opt/ort.so", OllamaBinEnv: "/usr/bin/ollama", ORTCUDADirEnv: "/opt/cuda"},
			Paths{Home: "/h", ORTLib: "/opt/ort.so", ORTCUDADir: "/opt/cuda", OllamaBin: "/usr/bin/ollama"}},
		{"CUDA library directories only from EDGEINFER_CUDA_LIBS", "/h", map[string]string{CUDALibsEnv: "/opt/cudnn/lib:/venv/site-packages"},
			Paths{Home: "/h", ORTLib: "/h/lib/libonnxruntime.so", ORTCUDADir: "/h/lib/cuda", OllamaBin: "/h/bin/ollama", CUDALibs: "/opt/cudnn/lib:/venv/site-packages"}},
	} {
		if got := Resolve(c.dir, env(c.env)); got != c.want {
			t.Errorf("%s: Resolve(%q) = %+v, want %+v", c.name, c.dir, got, c.want)
		}
	}
	if got := Default(env(nil)); filepath.Base(got) != ".edgeinfer" {
		t.Errorf("Default without EDGEINFER_HOME = %q, want ~/.edgeinfer", got)
	}
}
