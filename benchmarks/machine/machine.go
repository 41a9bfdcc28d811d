// Package machine describes the machine a benchmark runs on (package
// models/cpuinfo reads it; this names it for the benchmarks).
package machine

import (
	"os"
	"strconv"
	"strings"

	"github.com/edgeinfer/edgeinfer/models/cpuinfo"
)

// CPUModel is the processor's model name, else the architecture.
func CPUModel() string { return cpuinfo.Model() }

// Flags lists the SIMD features that decide the runtimes' kernels.
func Flags() string { return cpuinfo.Flags() }

// MemAvailable is the memory the kernel estimates is available for new
// work (/proc/meminfo's MemAvailable), in bytes; 0 where it cannot tell.
func MemAvailable() int64 {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
