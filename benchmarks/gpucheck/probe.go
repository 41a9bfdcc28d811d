package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/synth"
)

// The probe isolates a CUDA failure: one model, one set of provider
// options, two CUDA sessions, each step announced before it starts, so the
// last line of a process that crashes names the step that crashed it.
// scripts/gpu-check.sh probe runs one probe per process over the routes
// (EDGEINFER_ORT_CUDA_ROUTE), TF32 settings and models.

// probeModels are the models a probe runs, smallest first: a lone MatMul,
// the tiny synthetic BGE-base, the full-size one.
var probeModels = []string{"matmul", "tiny", "full"}

// Dimensions of the MatMul model: y[batch, matmulOut] = x[batch, matmulIn] · W.
const matmulIn, matmulOut = 64, 32

func probeModelPath(root, model string) (string, error) {
	switch model {
	case "matmul":
		return filepath.Join(root, "probe", "matmul.onnx"), nil
	case "tiny":
		return bgeWorkload().path(filepath.Join(root, "probe", "tiny")), nil
	case "full":
		return bgeWorkload().path(root), nil
	}
	return "", fmt.Errorf("-probe %q: want prepare or one of %v", model, probeModels)
}

// prepareProbes writes every probe model that is missing, so the probe
// processes only read them.
func prepareProbes(root string) error {
	matmul, _ := probeModelPath(root, "matmul")
	if _, err := os.Stat(matmul); err != nil {
		if err := writeMatMul(matmul); err != nil {
			return err
		}
	}
	for _, p := range []struct {
		model  string
		preset synth.Preset
		dir    string
	}{{"tiny", synth.Tiny, filepath.Join(root, "probe", "tiny")}, {"full", synth.Full, root}} {
		path, _ := probeModelPath(root, p.model)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := synth.Generate(context.Background(), synth.Options{Preset: p.preset, OutDir: p.dir}, []string{bgeWorkload().id}, os.Stdout); err != nil {
			return err
		}
	}
	return nil
}

func writeMatMul(path string) error {
	rng := rand.New(rand.NewPCG(3, 4))
	w := make([]float32, matmulIn*matmulOut)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 0.1)
	}
	g := onnxgraph.NewGraph("matmul")
	x := g.Input("x", onnxgraph.Float, onnxgraph.Dynamic("batch"), onnxgraph.Fixed(matmulIn))
	g.Node("MatMul", []string{x, g.Float32("w", []int64{matmulIn, matmulOut}, w)}, []string{"y"})
	g.Output("y", onnxgraph.Float, onnxgraph.Dynamic("batch"), onnxgraph.Fixed(matmulOut))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return onnxgraph.NewModel(g).Save(path)
}

func matmulWorkload() workload {
	return workload{
		name: "matmul", unit: "rows", output: "y",
		dynamic: func(batch int) []int64 { return []int64{int64(batch)} },
		inputs: func(batch int, _ *ort.Session) (map[string]onnx.Value, error) {
			rng := rand.New(rand.NewPCG(5, uint64(batch)))
			x := make([]float32, batch*matmulIn)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			t, err := onnx.NewTensor(onnx.NewShape(int64(batch), matmulIn), x)
			if err != nil {
				return nil, err
			}
			return map[string]onnx.Value{"x": t}, nil
		},
		compare: func(cpu, gpu []float32, _ int) (string, bool) {
			d := maxAbsDiff(cpu, gpu)
			return fmt.Sprintf("max |Δ| %.2e (tolerance %.0e)", d, logitTolerance), d <= logitTolerance
		},
	}
}

// probe runs o.probe on the CPU and on CUDA and prints one result line.
func probe(o options) error {
	if o.probe == "prepare" {
		return prepareProbes(o.models)
	}
	path, err := probeModelPath(o.models, o.probe)
	if err != nil {
		return err
	}
	w := bgeWorkload()
	if o.probe == "matmul" {
		w = matmulWorkload()
	}
	cudaOpts := ort.CUDAOptions{}
	if o.tf32 == "off" {
		cudaOpts.Extra = map[string]string{"use_tf32": "0"}
	}

	step := func(s string) { fmt.Printf("step: %s\n", s) }
	step("load the runtime")
	ort.PreferCUDA(true)
	rt, err := ort.RuntimeInfo()
	if err != nil {
		return err
	}
	fmt.Printf("runtime: ONNX Runtime %s, CUDA %v, route %q, devices %v %s%s\n", rt.Version, rt.CUDA, rt.CUDARoute, rt.Devices, rt.CUDANote, rt.CUDAUnavailable)
	if !rt.CUDA {
		return errors.New("CUDA unavailable: " + rt.CUDAUnavailable)
	}
	printMappings()

	step("CPU session")
	cpu, err := ort.Open(path, ort.Options{IntraOpThreads: o.threads})
	if err != nil {
		return err
	}
	defer cpu.Close()
	want, err := outputOf(cpu, w)
	if err != nil {
		return fmt.Errorf("CPU run: %w", err)
	}
	open := func(name string) (*ort.Session, error) {
		step("open CUDA session " + name)
		return ort.Open(path, ort.Options{IntraOpThreads: o.threads, Device: "cuda", RequireDevice: true, CUDA: cudaOpts})
	}
	run := func(name string, s *ort.Session) (string, error) {
		step("run CUDA session " + name)
		got, err := outputOf(s, w)
		if err != nil {
			return "", err
		}
		desc, ok := w.compare(want, got, checkBatch)
		if !ok {
			return "", fmt.Errorf("session %s differs from the CPU: %s", name, desc)
		}
		return desc, nil
	}
	a, err := open("A")
	if err != nil {
		return err
	}
	defer a.Close()
	desc, err := run("A", a)
	if err != nil {
		return err
	}
	// gpucheck keeps two CUDA sessions of one model open (default options
	// and TF32 off), so the probe does too.
	b, err := open("B")
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := run("B", b); err != nil {
		return err
	}
	if _, err := run("A again", a); err != nil {
		return err
	}
	fmt.Printf("probe: OK: %s\n", desc)
	return nil
}

// printMappings prints where the runtime, CUDA and cuDNN libraries are
// mapped, to place the program counter of a crash in a library.
func printMappings() {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 6 && strings.Contains(fields[1], "x") &&
			(strings.Contains(fields[5], "onnxruntime") || strings.Contains(fields[5], "/libcu") || strings.Contains(fields[5], "libnvrtc")) {
			fmt.Printf("map: %s %s %s\n", fields[0], fields[2], fields[5])
		}
	}
}
