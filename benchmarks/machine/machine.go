// Package machine describes the machine a benchmark runs on.
package machine

import (
	"os"
	"runtime"
	"strings"
)

// CPUModel is the processor's model name from /proc/cpuinfo, else the
// architecture.
func CPUModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
		}
	}
	return runtime.GOARCH
}

// Flags lists the SIMD features that decide ONNX Runtime's and llama.cpp's
// kernels (AVX2, AVX-512, VNNI, BF16, AMX; NEON/SVE on Arm), as
// /proc/cpuinfo names them, so figures from two machines are never read
// as if they came from one.
func Flags() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	present := map[string]bool{}
	for _, line := range strings.Split(string(raw), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if name = strings.TrimSpace(name); ok && (name == "flags" || name == "Features") {
			for _, f := range strings.Fields(rest) {
				present[f] = true
			}
		}
	}
	var have []string
	for _, f := range []string{"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "asimd", "sve"} {
		if present[f] {
			have = append(have, f)
		}
	}
	if len(have) == 0 {
		return "none of avx2/avx512/amx/asimd"
	}
	return strings.Join(have, " ")
}
