package m2m100

import (
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/enginetest"
	"github.com/edgeinfer/edgeinfer/models/calibrate/calibratetest"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

func TestCalibrationPicksEncoderBudgetAndCohortWidth(t *testing.T) {
	orttest.Require(t)
	on := true
	eng := enginetest.New(t, map[string]engine.ModelConfig{synth.M2M100ModelID: {Dir: tinyDir, Calibrate: &on, MaxLength: 12, NumBeams: 2}},
		map[string]engine.Backend{Kind: Backend{}}, nil)
	loaded, r := calibratetest.Load(t, eng, Backend{}, synth.M2M100ModelID)
	m := loaded.(*Model)
	if chosen := calibratetest.Chosen(r); chosen["encoder"] != 1 || chosen["cohort"] != 1 {
		t.Fatalf("want one chosen row per stage: %+v", r.Table)
	}
	got := m.sched.Config()
	if got.MaxBatchSize != r.Choice.MaxBatchSize || got.MaxLiveItems != r.Choice.MaxBatchSize || got.MaxBatchTokens != r.Choice.MaxBatchTokens {
		t.Fatalf("stepper runs %+v (live %d), calibration chose %s", got.Limits, got.MaxLiveItems, r.Choice)
	}
	if n := m.Stats().Cohorts.Load(); n != 0 {
		t.Errorf("calibration left %d cohorts counted", n)
	}
	if len(r.Key.Files) < 2 {
		t.Errorf("the key must cover the encoder and decoder files: %+v", r.Key.Files)
	}
	// The model still translates after its sessions were measured.
	out, err := m.Translate(testContext(t), &engine.TranslationInput{Text: "The translator reads the window.", SourceLang: "en", TargetLang: "fr"})
	if err != nil || out == nil {
		t.Fatalf("translate after calibration: %v", err)
	}
	for _, row := range r.Table {
		t.Logf("%s: %.0f", row.Shape, row.ItemsPerSec)
	}
}
