package resnet

import (
	"runtime"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/calibrate/calibratetest"
)

func TestCalibrationPicksBatchAndSplitAndReachesTheScheduler(t *testing.T) {
	on := true
	eng := newEngine(t, engine.ModelConfig{Calibrate: &on})
	loaded, r := calibratetest.Load(t, eng, Backend{}, resnet50)
	entry, _ := eng.Catalog().Lookup(resnet50)
	spec := eng.Spec(entry)
	splits := map[int]bool{}
	chosen := 0
	for _, row := range r.Table {
		splits[row.Threads] = true
		if row.Instances != max(1, runtime.NumCPU()/row.Threads) || row.ItemsPerSec <= 0 {
			t.Errorf("row %+v", row)
		}
		if row.Chosen {
			chosen++
		}
	}
	if chosen != 1 || len(splits) != len(threadChoices(spec)) {
		t.Fatalf("want every split measured and one row chosen: %+v", r.Table)
	}
	got := loaded.(*Model).sched.Config()
	if got.MaxBatchSize != r.Choice.MaxBatchSize || got.Instances != r.Choice.Instances {
		t.Fatalf("scheduler runs batch %d × %d instances, calibration chose %s", got.MaxBatchSize, got.Instances, r.Choice)
	}
	t.Logf("choice %s in %s", r.Choice, r.Took)
}

func TestConfiguredThreadsLimitCalibrationToBatchSizes(t *testing.T) {
	on := true
	loaded, r := calibratetest.Load(t, newEngine(t, engine.ModelConfig{Calibrate: &on, IntraOpThreads: 1}), Backend{}, resnet50)
	for _, row := range r.Table {
		if row.Threads != 1 {
			t.Fatalf("measured a split the config ruled out: %+v", row)
		}
	}
	if got := loaded.(*Model).sched.Config(); got.Instances != runtime.NumCPU() || got.MaxBatchSize != r.Choice.MaxBatchSize {
		t.Fatalf("scheduler %+v, choice %s", got, r.Choice)
	}
}
