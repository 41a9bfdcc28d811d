package cpuinfo

import (
	"os"
	"path/filepath"
	"testing"
)

func TestModelAndFlagsFromCPUInfo(t *testing.T) {
	for _, tc := range []struct{ name, text, model, flags string }{
		{"zen4", "processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse avx2 avx512f avx512_vnni avx512_bf16\n", "AMD EPYC 9R14", "avx2 avx512f avx512_vnni avx512_bf16"},
		{"xeon-amx", "model name\t: Intel Xeon\nflags\t: avx2 avx512f amx_tile\n", "Intel Xeon", "avx2 avx512f amx_tile"},
		{"graviton", "processor\t: 0\nFeatures\t: fp asimd sve\n", "", "asimd sve"},
		{"old", "model name\t: Old\nflags\t: sse2\n", "Old", "none of avx2/avx512/amx/asimd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cpuinfo")
			if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			old := cpuinfoPath
			cpuinfoPath = path
			t.Cleanup(func() { cpuinfoPath = old })
			if tc.model != "" && Model() != tc.model {
				t.Errorf("Model() = %q, want %q", Model(), tc.model)
			}
			if Flags() != tc.flags {
				t.Errorf("Flags() = %q, want %q", Flags(), tc.flags)
			}
		})
	}
}
