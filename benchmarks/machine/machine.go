// Package machine describes the machine a benchmark runs on (package
// models/cpuinfo reads it; this names it for the benchmarks).
package machine

import "github.com/edgeinfer/edgeinfer/models/cpuinfo"

// CPUModel is the processor's model name, else the architecture.
func CPUModel() string { return cpuinfo.Model() }

// Flags lists the SIMD features that decide the runtimes' kernels.
func Flags() string { return cpuinfo.Flags() }
