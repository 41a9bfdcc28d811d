package main

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/edgeinfer/edgeinfer/models/ort"
)

// checkBatch is the batch size of the accuracy comparison.
const checkBatch = 8

type benchRow struct {
	model        string
	unit         string
	batch        int
	cpu, gpu     float64 // items/s; 0 when not measured
	cpuMs, gpuMs float64 // per batch
}

type workloadResult struct {
	rows     []benchRow
	failures []string
}

// checkWorkload compares CUDA with the CPU on one model, then benchmarks
// both at every batch size. An fp16 workload is compared with the fp32
// model on the CPU, where it runs on CUDA, or where the run is CPU-only
// with itself on the CPU (ONNX Runtime casts what it has no half kernel
// for), and benchmarked on the GPU only.
func checkWorkload(o options, w workload, rt ort.Runtime) (workloadResult, error) {
	var res workloadResult
	path := w.path(o.models)
	fmt.Printf("\n== %s (%s)\n", w.name, path)
	refPath := path
	if w.half {
		refPath = filepath.Join(filepath.Dir(path), filepath.Base(fp32File))
	}
	start := time.Now()
	cpu, err := ort.Open(refPath, ort.Options{IntraOpThreads: o.threads})
	if err != nil {
		return res, err
	}
	defer cpu.Close()
	fmt.Printf("  CPU session: %s, %s, opened in %s\n", cpu.ExecutionProvider(), filepath.Base(refPath), time.Since(start).Round(time.Millisecond))

	var gpu *ort.Session
	switch {
	case o.device == "cuda":
		start = time.Now()
		gpu, err = ort.Open(path, ort.Options{IntraOpThreads: o.threads, Device: "cuda", RequireDevice: true})
		if err != nil {
			return res, err
		}
		defer gpu.Close()
		fmt.Printf("  GPU session: %s, opened in %s\n", gpu.ExecutionProvider(), time.Since(start).Round(time.Millisecond))
		failure, err := compareDevices(o, w, cpu, gpu, rt)
		if err != nil {
			return res, err
		}
		if failure != "" {
			res.failures = append(res.failures, failure)
		}
	case w.half:
		half, err := ort.Open(path, ort.Options{IntraOpThreads: o.threads})
		if err != nil {
			return res, err
		}
		defer half.Close()
		if failure, err := compareOutputs(w, cpu, half, "fp16 on the CPU vs fp32 on the CPU"); err != nil {
			return res, err
		} else if failure != "" {
			res.failures = append(res.failures, failure)
		}
		return res, nil // the CPU's half kernels are casts: nothing to benchmark
	}

	for _, batch := range o.batches {
		row := benchRow{model: w.name, unit: w.unit, batch: batch}
		if !w.half {
			if row.cpu, row.cpuMs, err = measure(cpu, w, batch, o.budget); err != nil {
				return res, fmt.Errorf("CPU batch %d: %w", batch, err)
			}
			fmt.Printf("  batch %3d: CPU %8.1f %s/s", batch, row.cpu, w.unit)
		} else {
			fmt.Printf("  batch %3d: CPU        - %s/s", batch, w.unit)
		}
		if gpu != nil {
			if row.gpu, row.gpuMs, err = measure(gpu, w, batch, o.budget); err != nil {
				return res, fmt.Errorf("GPU batch %d: %w", batch, err)
			}
			fmt.Printf(", GPU %9.1f %s/s", row.gpu, w.unit)
		}
		fmt.Println()
		res.rows = append(res.rows, row)
	}
	return res, nil
}

// compareDevices checks CUDA against the CPU on one batch, in strict fp32
// (a session with TF32 off, so only accumulation order differs) when the
// provider takes that option, and reports the difference of the default
// session (TF32 on where ORT enables it) for information. An fp16 session
// is compared as it is. It returns a failure description, or "".
func compareDevices(o options, w workload, cpu, gpu *ort.Session, rt ort.Runtime) (string, error) {
	if w.half {
		return compareOutputs(w, cpu, gpu, "fp16 on CUDA vs fp32 on the CPU")
	}
	mode := "fp32, TF32 off"
	if rt.CUDANote != "" {
		mode = "TF32 could not be turned off: legacy provider options"
	}
	strict, err := ort.Open(cpu.Path(), ort.Options{IntraOpThreads: o.threads, Device: "cuda", RequireDevice: true,
		CUDA: ort.CUDAOptions{Extra: map[string]string{"use_tf32": "0"}}})
	checked := gpu
	if err != nil {
		mode = "TF32 could not be turned off: " + err.Error()
	} else {
		defer strict.Close()
		checked = strict
	}
	failure, err := compareOutputs(w, cpu, checked, "CUDA ("+mode+") vs CPU")
	if err != nil || checked == gpu {
		return failure, err
	}
	want, err := outputOf(cpu, w)
	if err != nil {
		return "", fmt.Errorf("CPU run: %w", err)
	}
	dflt, err := outputOf(gpu, w)
	if err != nil {
		return "", fmt.Errorf("CUDA run: %w", err)
	}
	info, _ := w.compare(want, dflt, checkBatch)
	fmt.Printf("  info  CUDA (default options) vs CPU: %s\n", info)
	return failure, nil
}

// compareOutputs runs one batch on ref and on got, prints the comparison
// and returns a failure description, or "".
func compareOutputs(w workload, ref, got *ort.Session, what string) (string, error) {
	want, err := outputOf(ref, w)
	if err != nil {
		return "", fmt.Errorf("%s run: %w", ref.ExecutionProvider(), err)
	}
	have, err := outputOf(got, w)
	if err != nil {
		return "", fmt.Errorf("%s run: %w", got.ExecutionProvider(), err)
	}
	desc, ok := w.compare(want, have, checkBatch)
	verdict := "PASS"
	if !ok {
		verdict = "FAIL"
	}
	fmt.Printf("  check %s, batch %d: %s: %s\n", what, checkBatch, verdict, desc)
	if !ok {
		return fmt.Sprintf("%s: %s differ: %s", w.name, what, desc), nil
	}
	return "", nil
}

func outputOf(s *ort.Session, w workload) ([]float32, error) {
	r, err := newRunner(s, w, checkBatch)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.output(), nil
}

// measure runs batches until budget has passed (and at least three), after
// two warm-up runs that pay for kernel selection and first allocations.
func measure(s *ort.Session, w workload, batch int, budget time.Duration) (itemsPerSec, msPerBatch float64, err error) {
	r, err := newRunner(s, w, batch)
	if err != nil {
		return 0, 0, err
	}
	defer r.close()
	if err := r.run(); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	runs := 0
	for runs < 3 || time.Since(start) < budget {
		if err := r.run(); err != nil {
			return 0, 0, err
		}
		runs++
	}
	elapsed := time.Since(start).Seconds()
	return float64(runs*batch) / elapsed, 1000 * elapsed / float64(runs), nil
}

func printBench(rows []benchRow, gpu bool) {
	fmt.Println("\n== throughput (items/s; ms per batch)")
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	if gpu {
		fmt.Fprintln(tw, "model\tbatch\tCPU\tCPU ms\tGPU\tGPU ms\tGPU/CPU\t")
	} else {
		fmt.Fprintln(tw, "model\tbatch\tCPU\tCPU ms\t")
	}
	for _, r := range rows {
		switch {
		case gpu && r.cpu == 0: // fp16: GPU only
			fmt.Fprintf(tw, "%s\t%d\t-\t-\t%.1f\t%.2f\t-\t\n", r.model, r.batch, r.gpu, r.gpuMs)
		case gpu:
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.2f\t%.1fx\t\n", r.model, r.batch, r.cpu, r.cpuMs, r.gpu, r.gpuMs, r.gpu/r.cpu)
		default:
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t\n", r.model, r.batch, r.cpu, r.cpuMs)
		}
	}
	tw.Flush()
}
