//go:build gen

package audioprep

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGenerateResampleReference writes sox's very-high-quality resampling
// (rate -v) of every resampleSignals input to testdata/resample: run once
// with `go test -tags gen -run TestGenerateResampleReference ./audioprep`
// (needs sox: apt-get install sox) and commit the files.
func TestGenerateResampleReference(t *testing.T) {
	dir := t.TempDir()
	for _, sig := range resampleSignals() {
		in := filepath.Join(dir, "in.f32")
		if err := os.WriteFile(in, f32bytes(sig.samples), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join("testdata/resample", sig.name+".f32")
		cmd := exec.Command("sox", "-D", "-t", "f32", "-r", itoa(sig.rate), "-c", "1", in, "-t", "f32", out, "rate", "-v", "16000")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sox: %v\n%s", err, b)
		}
	}
}
