package main

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// TestCheckOnTheCPU runs the check's CPU half (what -device cpu runs) on
// the tiny models: every workload, fp16 ones against fp32, and the engine.
// Then an fp16 export from other weights must fail its comparison.
func TestCheckOnTheCPU(t *testing.T) {
	orttest.Require(t)
	o := options{models: t.TempDir(), device: "cpu", preset: "tiny", batches: []int{1}, budget: time.Millisecond, fp16: true}
	workloads := []workload{bgeWorkload(), resnetWorkload(), bgeHalfWorkload(), resnetHalfWorkload()}
	if err := ensureModels(o, workloads); err != nil {
		t.Fatal(err)
	}
	for _, w := range workloads {
		res, err := checkWorkload(o, w, ort.Runtime{})
		if err != nil || len(res.failures) > 0 {
			t.Errorf("%s: %v %v", w.name, err, res.failures)
		}
		if want := map[bool]int{false: 1, true: 0}[w.half]; len(res.rows) != want {
			t.Errorf("%s: %d benchmark rows on the CPU, want %d", w.name, len(res.rows), want)
		}
	}
	if err := checkEngine(o); err != nil {
		t.Error(err)
	}

	other := t.TempDir()
	w := bgeHalfWorkload()
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: other, Seed: 7, Float16: true}, []string{w.id}, io.Discard); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(w.path(other))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.path(o.models), data, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := checkWorkload(o, w, ort.Runtime{})
	if err != nil || len(res.failures) != 1 {
		t.Errorf("fp16 weights unlike the fp32 ones: err %v, failures %v", err, res.failures)
	}
}
