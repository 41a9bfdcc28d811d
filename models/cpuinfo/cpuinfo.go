// Package cpuinfo reads what decides ONNX Runtime's and llama.cpp's kernels
// on this machine: the processor's model name and its SIMD features. The
// benchmarks print it beside every figure, calibration keys its cache by
// it and `edgeinfer doctor` shows it. It imports nothing of edgeinfer.
package cpuinfo

import (
	"os"
	"runtime"
	"strings"
)

// cpuinfoPath is read for the model name and flags (a variable for tests).
var cpuinfoPath = "/proc/cpuinfo"

// Model is the processor's model name from /proc/cpuinfo, else the
// architecture.
func Model() string {
	raw, err := os.ReadFile(cpuinfoPath)
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

// simdFlags are the features Flags reports, in this order, as
// /proc/cpuinfo names them.
var simdFlags = []string{"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "asimd", "sve"}

// Flags lists the SIMD features that decide ONNX Runtime's and llama.cpp's
// kernels (AVX2, AVX-512, VNNI, BF16, AMX; NEON/SVE on Arm), so figures
// and measurements from two machines are never read as if they came from
// one.
func Flags() string {
	raw, err := os.ReadFile(cpuinfoPath)
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
	for _, f := range simdFlags {
		if present[f] {
			have = append(have, f)
		}
	}
	if len(have) == 0 {
		return "none of avx2/avx512/amx/asimd"
	}
	return strings.Join(have, " ")
}

// Cores is the number of CPUs this process may use.
func Cores() int { return runtime.NumCPU() }
