// Command gpucheck verifies edgeinfer's ONNX models on CUDA and measures
// them: it generates the synthetic BGE-base and ResNet-50 when they are
// missing, runs each on the CPU and on CUDA, checks that the outputs agree
// within stated tolerances, checks that the engine serves BGE-base on the
// requested device through its real backend, and prints items/s at a few
// batch sizes. scripts/gpu-check.sh runs it on a GPU machine; with
// -device cpu it runs the CPU half alone (a smoke test anywhere).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

type options struct {
	models  string
	device  string
	preset  string
	batches []int
	budget  time.Duration
	threads int
	fp16    bool
	// probe and tf32 select a probe (probe.go) instead of the check.
	probe, tf32 string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "gpucheck: FAIL: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("gpucheck: PASS")
}

func parseFlags() (options, error) {
	var o options
	var batches string
	flag.StringVar(&o.models, "models", "", "models root (generated there when missing)")
	flag.StringVar(&o.device, "device", "cuda", "cuda (check and benchmark CPU and GPU) or cpu (CPU only)")
	flag.StringVar(&o.preset, "preset", "full", "synthetic preset to generate: full (real sizes) or tiny")
	flag.StringVar(&batches, "batches", "1,8,32", "benchmark batch sizes")
	flag.DurationVar(&o.budget, "time", 2*time.Second, "measuring time per benchmark point (after 2 warm-up runs, at least 3 runs)")
	flag.IntVar(&o.threads, "threads", 0, "CPU intra-op threads (0: every core)")
	flag.BoolVar(&o.fp16, "fp16", true, "also check and benchmark the fp16 exports (onnx/model_fp16.onnx) against fp32 on the CPU")
	flag.StringVar(&o.probe, "probe", "", "instead of the check, probe CUDA on one model (matmul, tiny or full), or write the probe models (prepare)")
	flag.StringVar(&o.tf32, "tf32", "default", "probe CUDA sessions with TF32 default or off")
	flag.Parse()
	if o.models == "" {
		return o, errors.New("-models is required")
	}
	if o.device != "cuda" && o.device != "cpu" {
		return o, fmt.Errorf("-device %q: want cuda or cpu", o.device)
	}
	for _, f := range strings.Split(batches, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b < 1 {
			return o, fmt.Errorf("-batches: %q is not a batch size", f)
		}
		o.batches = append(o.batches, b)
	}
	return o, nil
}

func run() error {
	o, err := parseFlags()
	if err != nil {
		return err
	}
	if o.probe != "" {
		return probe(o)
	}
	cuda := o.device == "cuda"
	ort.PreferCUDA(cuda)
	rt, err := ort.RuntimeInfo()
	if err != nil {
		return err
	}
	printRuntime(rt)
	if cuda && !rt.CUDA {
		return fmt.Errorf("CUDA was requested but is unavailable: %s", rt.CUDAUnavailable)
	}

	workloads := []workload{bgeWorkload(), resnetWorkload()}
	if o.fp16 {
		workloads = append(workloads, bgeHalfWorkload(), resnetHalfWorkload())
	}
	if err := ensureModels(o, workloads); err != nil {
		return err
	}
	var failures []string
	var rows []benchRow
	for _, w := range workloads {
		r, err := checkWorkload(o, w, rt)
		if err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
		rows = append(rows, r.rows...)
		failures = append(failures, r.failures...)
	}
	if err := checkEngine(o); err != nil {
		failures = append(failures, "engine: "+err.Error())
	}
	printBench(rows, cuda)
	if len(failures) > 0 {
		return fmt.Errorf("%d check(s) failed:\n  %s", len(failures), strings.Join(failures, "\n  "))
	}
	return nil
}

func printRuntime(rt ort.Runtime) {
	fmt.Printf("machine: %d CPUs, %s/%s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("ONNX Runtime %s from %s\n", rt.Version, rt.Library)
	if rt.CUDA {
		fmt.Printf("CUDA: available, %d GPU(s), route %s (%s)\n", rt.GPUs, rt.CUDARoute, ort.CUDARouteEnv)
		if rt.CUDANote != "" {
			fmt.Printf("  note: %s\n", rt.CUDANote)
		}
	} else {
		fmt.Printf("CUDA: unavailable: %s\n", rt.CUDAUnavailable)
	}
	for _, lib := range rt.CUDALibraries {
		fmt.Printf("  preloaded %s\n", lib)
	}
	for _, d := range rt.Devices {
		fmt.Printf("  device: %s\n", d)
	}
}

// ensureModels generates the workloads' models that are missing.
func ensureModels(o options, workloads []workload) error {
	var missing []string
	for _, w := range workloads {
		if _, err := os.Stat(w.path(o.models)); err != nil && !slices.Contains(missing, w.id) {
			missing = append(missing, w.id)
		}
	}
	if len(missing) == 0 {
		fmt.Printf("models: using %s\n", o.models)
		return nil
	}
	start := time.Now()
	err := synth.Generate(context.Background(), synth.Options{Preset: synth.Preset(o.preset), OutDir: o.models, Float16: o.fp16}, missing, os.Stdout)
	if err != nil {
		return err
	}
	fmt.Printf("models: generated %d in %s\n", len(missing), time.Since(start).Round(time.Millisecond))
	return nil
}
