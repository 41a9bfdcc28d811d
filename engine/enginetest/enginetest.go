// Package enginetest builds engines for tests: the embedded catalog, a
// fresh home, the models a test configures and the backends it names, closed
// when the test ends.
package enginetest

import (
	"log/slog"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
)

// New returns an engine over the embedded catalog with a fresh home and
// models configured as given (other settings default), served by backends;
// log may be nil.
func New(t testing.TB, models map[string]engine.ModelConfig, backends map[string]engine.Backend, log *slog.Logger) *engine.Engine {
	t.Helper()
	cat, err := engine.LoadCatalog()
	if err != nil {
		t.Fatal(err)
	}
	cfg := engine.DefaultConfig()
	cfg.Home = t.TempDir()
	// Batch sizes stay the backends' defaults, so tests do not depend on
	// what this machine measures; a model's calibrate: true turns it on.
	off := false
	cfg.Calibrate = &off
	for id, mc := range models {
		cfg.Models[id] = mc
	}
	eng, err := engine.New(cat, cfg, backends, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}
