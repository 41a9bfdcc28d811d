package calibrate

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/engine/home"
)

func TestPickTakesTheSmallestShapeWithinNoiseOfTheBest(t *testing.T) {
	rows := func(rates ...float64) []Row {
		out := make([]Row, len(rates))
		for i, r := range rates {
			out[i] = Row{Shape: Shape{Rows: 1 << i}, ItemsPerSec: r}
		}
		return out
	}
	for _, tc := range []struct {
		rates []float64
		want  int
	}{
		{[]float64{22.8, 32.4, 30.6, 26.3}, 1}, // batch 4 wins outright
		{[]float64{10, 20, 40, 40.5, 41}, 2},   // 40 is within 3% of 41
		{[]float64{10, 20, 40, 50, 100}, 4},    // still growing: the biggest
		{[]float64{100}, 0},                    // one shape
		{[]float64{0, 0}, -1},                  // nothing ran
		{[]float64{50, 10, 49}, 0},             // the first is the best
	} {
		if got := Pick(rows(tc.rates...)); got != tc.want {
			t.Errorf("Pick(%v) = %d, want %d", tc.rates, got, tc.want)
		}
	}
}

// fakeSweeper has a far deadline, so only the policy stops a sweep.
func fakeSweeper(d time.Duration) *Sweeper {
	return &Sweeper{deadline: time.Now().Add(d), log: func(string, ...any) {}}
}

func TestSweepStopsWhenBiggerIsNoLongerBetter(t *testing.T) {
	rates := map[int]float64{1: 20, 2: 30, 4: 33, 8: 31, 16: 32, 32: 50}
	var measured []int
	rows, err := fakeSweeper(time.Hour).Sweep(textShapes("short", Doubling(1, 32), 32), 1, func(s Shape) (float64, error) {
		measured = append(measured, s.Rows)
		return rates[s.Rows], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 4, 8, 8, 16, 16}; !equalInts(measured, want) {
		t.Fatalf("measured %v, want %v: stop after 8 and 16 (each slower than 4, twice)", measured, want)
	}
	if c := Chosen(rows); c.Rows != 4 {
		t.Errorf("chose %+v, want rows 4", c)
	}
}

// One batch size slower than the one before does not end the sweep: the
// int8 bge-base on a 2-core EPYC measured 86 texts/s at batch 1 and 65 at
// batch 2, and a sweep that stopped there served batches of one at half
// the throughput batch 4 gives.
func TestSweepGoesOnAfterOneDip(t *testing.T) {
	rates := map[int]float64{1: 86, 2: 65, 4: 120, 8: 118, 16: 110, 32: 100}
	rows, err := fakeSweeper(time.Hour).Sweep(textShapes("short", Doubling(1, 32), 32), 1, func(s Shape) (float64, error) {
		return rates[s.Rows], nil
	})
	if err != nil || len(rows) != 5 || Chosen(rows).Rows != 4 {
		t.Fatalf("rows %+v err %v: want 1…16 measured and 4 chosen", rows, err)
	}
}

func TestSweepGoesOnAfterOneSlowRound(t *testing.T) {
	calls := map[int]int{}
	rows, err := fakeSweeper(time.Hour).Sweep(textShapes("short", Doubling(1, 8), 32), 1, func(s Shape) (float64, error) {
		calls[s.Rows]++
		if s.Rows == 2 && calls[2] == 1 {
			return 1, nil // slowed by other work
		}
		return float64(10 * s.Rows), nil
	})
	if err != nil || len(rows) != 4 || Chosen(rows).Rows != 8 {
		t.Fatalf("rows %+v err %v: one slow round must not end the sweep", rows, err)
	}
}

func TestSweepStopsAtTheDeadlineButMeasuresOneShape(t *testing.T) {
	n := 0
	rows, err := fakeSweeper(0).Sweep(textShapes("short", Doubling(1, 64), 32), 1, func(Shape) (float64, error) {
		n++
		return float64(n), nil
	})
	if err != nil || n != 1 || len(rows) != 1 || !rows[0].Chosen {
		t.Fatalf("n %d rows %+v err %v, want one measured and chosen", n, rows, err)
	}
}

func TestSweepReportsAMeasurementError(t *testing.T) {
	boom := errors.New("boom")
	_, err := fakeSweeper(time.Hour).Sweep(textShapes("short", []int{1, 2}, 8), 1, func(Shape) (float64, error) { return 0, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}

func TestRateCountsItemsOfEveryParallelCall(t *testing.T) {
	rate, err := Rate(3, func() (int, error) { time.Sleep(2 * time.Millisecond); return 5, nil })
	// 15 items per round of ≥ 2 ms: at most 7500 items/s, and the round
	// cannot take a whole second.
	if err != nil || rate <= 15 || rate > 7500 {
		t.Fatalf("rate %v err %v", rate, err)
	}
}

func TestDoubling(t *testing.T) {
	for _, tc := range []struct {
		lo, hi int
		want   []int
	}{{1, 64, []int{1, 2, 4, 8, 16, 32, 64}}, {8, 256, []int{8, 16, 32, 64, 128, 256}}, {1, 12, []int{1, 2, 4, 8, 12}}, {4, 4, []int{4}}} {
		if got := Doubling(tc.lo, tc.hi); !equalInts(got, tc.want) {
			t.Errorf("Doubling(%d, %d) = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestApplyKeepsExplicitSettings(t *testing.T) {
	spec := engine.ModelSpec{Entry: &engine.Entry{ID: "@cf/x/y"}, Config: engine.ModelConfig{MaxBatchSize: 3}}
	base := batch.Config{Limits: batch.Limits{MaxBatchSize: 8, MaxBatchTokens: 8192}, Instances: 2}
	got := Choice{MaxBatchSize: 16, MaxBatchTokens: 2048, Instances: 1}.Apply(base, spec)
	if got.MaxBatchSize != 3 || got.MaxBatchTokens != 2048 || got.Instances != 1 {
		t.Errorf("Apply = %+v, want the configured max_batch_size 3 and the measured rest", got)
	}
	spec.Config.IntraOpThreads = 2
	if got := (Choice{Instances: 1}).Apply(base, spec); got.Instances != 2 {
		t.Errorf("with intra_op_threads configured the backend's instances must stay: %+v", got)
	}
}

// cacheFixture is a model directory with one weight file and a plan whose
// probe counts its runs.
type cacheFixture struct {
	plan   Plan
	file   string
	probes int
}

func newCacheFixture(t *testing.T) *cacheFixture {
	t.Helper()
	root := t.TempDir()
	f := &cacheFixture{}
	spec := engine.ModelSpec{Entry: &engine.Entry{ID: "@cf/baai/bge-base-en-v1.5"}, Paths: home.Resolve(root, func(string) string { return "" })}
	if err := os.MkdirAll(spec.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	f.file = filepath.Join(spec.Dir(), "model.onnx")
	if err := os.WriteFile(f.file, []byte("weights v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.plan = Plan{Spec: spec, Files: []string{f.file}, Probe: func(s *Sweeper) (Choice, error) {
		f.probes++
		rows, err := s.Sweep([]Shape{{Stage: "short", Rows: 1}, {Stage: "short", Rows: 2}}, 1, func(sh Shape) (float64, error) { return float64(sh.Rows), nil })
		return Choice{MaxBatchSize: Chosen(rows).Rows}, err
	}}
	setMachine(t, "CPU A", "avx2", "1.30.0", 2)
	return f
}

func setMachine(t *testing.T, cpu, flags, rt string, threads int) {
	old := machine
	machine = func() (string, string, string, int) { return cpu, flags, rt, threads }
	t.Cleanup(func() { machine = old })
}

func (f *cacheFixture) run(t *testing.T) Choice {
	t.Helper()
	c, ok := Run(f.plan)
	if !ok {
		t.Fatal("calibration failed")
	}
	return c
}

func TestCacheIsUsedOnTheSameMachineAndModel(t *testing.T) {
	f := newCacheFixture(t)
	if c := f.run(t); c.MaxBatchSize != 2 || f.probes != 1 {
		t.Fatalf("first run: %+v after %d probes", c, f.probes)
	}
	if c := f.run(t); c.MaxBatchSize != 2 || f.probes != 1 {
		t.Fatalf("second run measured again (%d probes) or lost the choice %+v", f.probes, c)
	}
	r, err := Read(Path(f.plan.Spec.Paths.Home, f.plan.Spec.Entry.ID, "cpu"))
	if err != nil || len(r.Table) != 2 || !r.Table[1].Chosen || r.Key.Files[0].Name != "model.onnx" {
		t.Fatalf("cache %+v, %v", r, err)
	}
}

func TestCacheFromAnotherMachineRuntimeOrModelIsRebuilt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, f *cacheFixture)
	}{
		{"cpu model", func(t *testing.T, _ *cacheFixture) { setMachine(t, "CPU B", "avx2", "1.30.0", 2) }},
		{"cpu flags", func(t *testing.T, _ *cacheFixture) { setMachine(t, "CPU A", "avx2 avx512f", "1.30.0", 2) }},
		{"runtime", func(t *testing.T, _ *cacheFixture) { setMachine(t, "CPU A", "avx2", "1.29.0", 2) }},
		{"threads", func(t *testing.T, _ *cacheFixture) { setMachine(t, "CPU A", "avx2", "1.30.0", 16) }},
		{"intra_op_threads", func(t *testing.T, f *cacheFixture) { f.plan.Spec.Config.IntraOpThreads = 1 }},
		{"digest", func(t *testing.T, f *cacheFixture) {
			if err := os.WriteFile(f.file, []byte("weights v2"), 0o644); err != nil { // same size
				t.Fatal(err)
			}
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(f.file, later, later); err != nil {
				t.Fatal(err)
			}
		}},
		{"corrupt", func(t *testing.T, f *cacheFixture) {
			if err := os.WriteFile(Path(f.plan.Spec.Paths.Home, f.plan.Spec.Entry.ID, "cpu"), []byte(`{"key": {"format": 1`), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"no choice", func(t *testing.T, f *cacheFixture) {
			if err := os.WriteFile(Path(f.plan.Spec.Paths.Home, f.plan.Spec.Entry.ID, "cpu"), []byte(`{"key": {"format": 1}, "choice": {"max_batch_size": -4}}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCacheFixture(t)
			f.run(t)
			tc.change(t, f)
			f.run(t)
			if f.probes != 2 {
				t.Fatalf("after a changed %s the cache was trusted (%d probes)", tc.name, f.probes)
			}
			f.run(t)
			if f.probes != 2 {
				t.Fatalf("the rebuilt cache was not used (%d probes)", f.probes)
			}
		})
	}
}

func TestDigestIsReusedWhileSizeAndTimeAreUnchanged(t *testing.T) {
	f := newCacheFixture(t)
	f.run(t)
	r, _ := Read(Path(f.plan.Spec.Paths.Home, f.plan.Spec.Entry.ID, "cpu"))
	// A digest recorded for the same size and time is trusted without
	// reading the file: a planted one proves the file was not rehashed.
	planted := r.Key.Files
	planted[0].SHA256 = "planted"
	got, err := digests(f.plan.Spec.Dir(), f.plan.Files, planted)
	if err != nil || got[0].SHA256 != "planted" {
		t.Fatalf("digest %+v, %v: want the recorded one reused", got, err)
	}
	planted[0].ModTime++
	if got, _ := digests(f.plan.Spec.Dir(), f.plan.Files, planted); got[0].SHA256 == "planted" || len(got[0].SHA256) != 64 {
		t.Fatalf("a changed modification time must rehash: %+v", got)
	}
}

func TestFailedProbeKeepsDefaultsAndCachesNothing(t *testing.T) {
	f := newCacheFixture(t)
	f.plan.Probe = func(*Sweeper) (Choice, error) { return Choice{}, errors.New("session failed") }
	if _, ok := Run(f.plan); ok {
		t.Fatal("a failed probe must report ok false")
	}
	if _, err := os.Stat(Path(f.plan.Spec.Paths.Home, f.plan.Spec.Entry.ID, "cpu")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed probe left a cache file: %v", err)
	}
}

func TestWithoutAHomeNothingIsCached(t *testing.T) {
	f := newCacheFixture(t)
	f.plan.Spec.Config.Dir = f.plan.Spec.Dir()
	f.plan.Spec.Paths = home.Paths{}
	cwd := t.TempDir()
	t.Chdir(cwd)
	f.run(t)
	f.run(t)
	if f.probes != 2 {
		t.Fatalf("measured %d times without a cache, want 2", f.probes)
	}
	if entries, _ := os.ReadDir(cwd); len(entries) != 0 {
		t.Fatalf("wrote %v under the working directory", entries)
	}
}

func TestSessionFilesIncludeExternalData(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"model.onnx", "model.onnx_data", "model_quantized.onnx", "other.bin"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := SessionFiles(filepath.Join(dir, "model.onnx"))
	if len(got) != 2 || filepath.Base(got[1]) != "model.onnx_data" {
		t.Fatalf("SessionFiles = %v", got)
	}
}

func TestPathKeepsModelsApart(t *testing.T) {
	a, b := Path("/h", "@cf/baai/bge-base-en-v1.5", "cpu"), Path("/h", "@cf/baai/bge-base-en-v1.5", "cuda:1")
	if a == b || filepath.Dir(a) != "/h/state/calibration" || filepath.Base(b) != "cf_baai_bge-base-en-v1.5@cuda-1.json" {
		t.Fatalf("paths %s %s", a, b)
	}
}

func TestSweepDoesNotStartAShapePredictedToOverrunTheDeadline(t *testing.T) {
	var measured []int
	rows, err := fakeSweeper(100*time.Millisecond).Sweep(textShapes("short", Doubling(1, 64), 32), 1, func(s Shape) (float64, error) {
		measured = append(measured, s.Rows)
		time.Sleep(time.Duration(s.Rows) * 10 * time.Millisecond) // cost grows with the batch
		return float64(s.Rows), nil
	})
	// 1 (10 ms) and 2 (20 ms) fit; 4 would end near 70 ms, 8 would not.
	if err != nil || len(measured) > 3 || len(rows) != len(measured) {
		t.Fatalf("measured %v (rows %d, err %v): a shape predicted past the deadline was started", measured, len(rows), err)
	}
}
