package bert

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
)

// loadDirect loads the tiny bge-small with mc through the backend, as the
// engine would, and returns the model and its spec.
func loadDirect(t *testing.T, mc engine.ModelConfig) (*Model, engine.ModelSpec) {
	t.Helper()
	eng := newEngine(t, mc)
	entry, ok := eng.Catalog().Lookup(small)
	if !ok {
		t.Fatal("no catalog entry")
	}
	spec := eng.Spec(entry)
	start := time.Now()
	loaded, err := Backend{}.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load took %s", time.Since(start))
	t.Cleanup(func() { loaded.Close() })
	return loaded.(embedder).Model, spec
}

func TestCalibrationAtLoadReachesTheScheduler(t *testing.T) {
	on := true
	m, spec := loadDirect(t, engine.ModelConfig{Calibrate: &on})
	path := calibrate.Path(spec.Paths.Home, small, "cpu")
	r, err := calibrate.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]int{}
	for _, row := range r.Table {
		if row.ItemsPerSec <= 0 {
			t.Errorf("row %+v measured nothing", row)
		}
		if row.Chosen {
			stages[row.Stage]++
		}
	}
	if stages["short"] != 1 || stages["long"] != 1 {
		t.Fatalf("want one chosen row per stage, table %+v", r.Table)
	}
	got := m.sched.Config()
	if got.MaxBatchSize != r.Choice.MaxBatchSize || got.MaxBatchTokens != r.Choice.MaxBatchTokens || got.MaxBatchSize < 1 {
		t.Fatalf("scheduler runs %+v, calibration chose %+v", got.Limits, r.Choice)
	}
	t.Logf("table:\n%+v\nchoice %s in %s", r.Table, r.Choice, r.Took)

	// The next load on the same machine reads the cache.
	again, err := Backend{}.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if r2, err := calibrate.Read(path); err != nil || !r2.At.Equal(r.At) {
		t.Fatalf("second load measured again (%v, %v)", r2.At, err)
	}
	if got2 := again.(embedder).sched.Config(); got2.Limits != got.Limits {
		t.Fatalf("second load runs %+v, first %+v", got2.Limits, got.Limits)
	}
}

func TestExplicitBatchSettingsOrCalibrateFalseSkipCalibration(t *testing.T) {
	on, off := true, false
	for name, mc := range map[string]engine.ModelConfig{
		"explicit":        {Calibrate: &on, MaxBatchSize: 3, MaxBatchTokens: 100},
		"calibrate false": {Calibrate: &off, MaxBatchSize: 3, MaxBatchTokens: 100},
	} {
		t.Run(name, func(t *testing.T) {
			m, spec := loadDirect(t, mc)
			if _, err := os.Stat(calibrate.Path(spec.Paths.Home, small, "cpu")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("calibration ran: %v", err)
			}
			if got := m.sched.Config(); got.MaxBatchSize != 3 || got.MaxBatchTokens != 100 {
				t.Errorf("scheduler runs %+v, want the configured 3 and 100", got.Limits)
			}
		})
	}
}
