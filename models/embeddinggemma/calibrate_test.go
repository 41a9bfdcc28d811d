package embeddinggemma

import (
	"context"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
)

func TestCalibrationAtLoadReachesTheScheduler(t *testing.T) {
	on := true
	eng := newEngine(t, engine.ModelConfig{Calibrate: &on})
	entry, _ := eng.Catalog().Lookup(model)
	spec := eng.Spec(entry)
	loaded, err := Backend{}.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	r, err := calibrate.Read(calibrate.Path(spec.Paths.Home, model, "cpu"))
	if err != nil {
		t.Fatal(err)
	}
	chosen := map[string]int{}
	for _, row := range r.Table {
		if row.Chosen && row.ItemsPerSec > 0 {
			chosen[row.Stage]++
		}
	}
	if chosen["short"] != 1 || chosen["long"] != 1 {
		t.Fatalf("want one chosen row per stage: %+v", r.Table)
	}
	if got := loaded.(*Model).sched.Config(); got.MaxBatchSize != r.Choice.MaxBatchSize || got.MaxBatchTokens != r.Choice.MaxBatchTokens {
		t.Fatalf("scheduler runs %+v, calibration chose %s", got.Limits, r.Choice)
	}
}
