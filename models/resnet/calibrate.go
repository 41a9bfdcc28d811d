package resnet

import (
	"runtime"
	"slices"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/imageprep"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// calibrated returns spec with the measured batch size and split of the
// cores (sessions × intra-op threads) filled in where the config leaves
// them unset, measured on probe sessions of the model file at path.
func calibrated(spec engine.ModelSpec, path string, proc *imageprep.Processor, labels []string) engine.ModelSpec {
	if !calibrate.Enabled(spec) || (spec.Config.MaxBatchSize > 0 && spec.Config.IntraOpThreads > 0) {
		return spec
	}
	probe := func(s *calibrate.Sweeper) (calibrate.Choice, error) { return probeSplits(s, spec, path, proc, labels) }
	choice, ok := calibrate.Run(calibrate.Plan{Spec: spec, Files: calibrate.SessionFiles(path), Probe: probe})
	if !ok {
		return spec
	}
	return choice.Over(spec)
}

// threadChoices are the intra-op thread counts tried: the configured one,
// else 1 (one batch per core, the old default), 2, 4 and all cores.
func threadChoices(spec engine.ModelSpec) []int {
	if spec.Config.IntraOpThreads > 0 {
		return []int{spec.Config.IntraOpThreads}
	}
	n := runtime.NumCPU()
	var out []int
	for _, t := range []int{1, 2, 4, n} {
		if t <= n && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// probeSplits sweeps batch sizes for each split of the cores, each on its
// own session, and picks across all of them.
func probeSplits(s *calibrate.Sweeper, spec engine.ModelSpec, path string, proc *imageprep.Processor, labels []string) (calibrate.Choice, error) {
	img := &pixels{data: make([]float32, proc.Len())}
	splits := threadChoices(spec)
	for i, threads := range splits {
		onGPU, err := probeSplit(s, spec, path, proc, labels, img, threads, 1/float64(len(splits)-i))
		if err != nil {
			return calibrate.Choice{}, err
		}
		if onGPU {
			break // one session per device; its threads do not matter
		}
	}
	best := s.Repick("images")
	return calibrate.Choice{MaxBatchSize: best.Rows, Instances: best.Instances, IntraOpThreads: best.Threads}, nil
}

// probeSplit measures one split: a session of threads intra-op threads
// running NumCPU/threads batches at once (two on a GPU).
func probeSplit(s *calibrate.Sweeper, spec engine.ModelSpec, path string, proc *imageprep.Processor, labels []string, img *pixels, threads int, share float64) (onGPU bool, err error) {
	opts := onnxdir.SessionOptions(spec.Config)
	opts.IntraOpThreads = threads
	sess, err := ort.Open(path, opts)
	if err != nil {
		return false, err
	}
	defer sess.Close()
	h, w, _ := proc.OutputSize()
	pm := &Model{sess: sess, proc: proc, labels: labels, h: h, w: w}
	if err := pm.bind(); err != nil {
		return false, err
	}
	inType, outType := sess.Inputs()[0].Type, sess.Outputs()[pm.output].Type
	pm.buffers.New = func() any { return &batchBuffers{in: ort.Floats{Type: inType}, out: ort.Floats{Type: outType}} }
	sizes, instances := calibrate.Doubling(1, 64), max(1, runtime.NumCPU()/threads)
	if sess.OnGPU() {
		sizes, instances, threads = calibrate.Doubling(4, 128), batch.GPUInstances, 0
	}
	if spec.Config.MaxBatchSize > 0 {
		sizes = []int{spec.Config.MaxBatchSize}
	}
	items := make([]*pixels, sizes[len(sizes)-1])
	for i := range items {
		items[i] = img
	}
	shapes := make([]calibrate.Shape, len(sizes))
	for i, n := range sizes {
		shapes[i] = calibrate.Shape{Stage: "images", Rows: n, Instances: instances, Threads: threads}
	}
	_, err = s.Sweep(shapes, share, func(sh calibrate.Shape) (float64, error) {
		return calibrate.Rate(sh.Instances, func() (int, error) {
			_, err := pm.runBatch(items[:sh.Rows])
			return sh.Rows, err
		})
	})
	return sess.OnGPU(), err
}
