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
