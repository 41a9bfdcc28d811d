package embeddinggemma

import (
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/calibrate/calibratetest"
)

func TestCalibrationAtLoadReachesTheScheduler(t *testing.T) {
	on := true
	loaded, r := calibratetest.Load(t, newEngine(t, engine.ModelConfig{Calibrate: &on}), Backend{}, model)
	if chosen := calibratetest.Chosen(r); chosen["short"] != 1 || chosen["long"] != 1 {
		t.Fatalf("want one chosen row per stage: %+v", r.Table)
	}
	if got := loaded.(*Model).sched.Config(); got.MaxBatchSize != r.Choice.MaxBatchSize || got.MaxBatchTokens != r.Choice.MaxBatchTokens {
		t.Fatalf("scheduler runs %+v, calibration chose %s", got.Limits, r.Choice)
	}
}
