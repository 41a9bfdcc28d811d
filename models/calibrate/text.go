package calibrate

import (
	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// Lengths the text encoders are measured at, in tokens: a short sentence
// sets the batch size, a paragraph the token budget (the scheduler groups
// texts of similar length, so a batch of long texts is bounded by tokens).
const (
	textShortTokens = 32
	textLongTokens  = 128
)

// TextRun runs one batch of rows sequences of cols tokens on a text
// encoder's session.
type TextRun func(rows, cols int) error

// TextConfig is batch.TextConfig with the batch size and token budget
// measured on sess, unless calibration is off for the model or it sets
// both explicitly. maxTokens is the model's input limit.
func TextConfig(spec engine.ModelSpec, sess *ort.Session, gpuMaxBatchTokens, maxTokens int, run TextRun) batch.Config {
	onGPU := sess.OnGPU()
	cfg := batch.TextConfig(spec, onGPU, gpuMaxBatchTokens)
	if !Enabled(spec) || (spec.Config.MaxBatchSize > 0 && spec.Config.MaxBatchTokens > 0) {
		return cfg
	}
	probe := func(s *Sweeper) (Choice, error) { return textProbe(s, onGPU, maxTokens, gpuMaxBatchTokens, run) }
	choice, ok := Run(Plan{Spec: spec, Files: SessionFiles(sess.Path()), Probe: probe})
	if !ok {
		return cfg
	}
	return choice.Apply(cfg, spec)
}

// textProbe sweeps batch sizes at a short and a long length.
func textProbe(s *Sweeper, onGPU bool, maxTokens, gpuMaxBatchTokens int, run TextRun) (Choice, error) {
	rows := Doubling(1, 64)
	if onGPU {
		rows = Doubling(8, 256)
	}
	short, long := min(textShortTokens, maxTokens), min(textLongTokens, maxTokens)
	measure := func(sh Shape) (float64, error) {
		return Rate(1, func() (int, error) { return sh.Rows, run(sh.Rows, sh.Cols) })
	}
	shortRows, err := s.Sweep(textShapes("short", rows, short), 0.5, measure)
	if err != nil {
		return Choice{}, err
	}
	c := Choice{MaxBatchSize: Chosen(shortRows).Rows, MaxBatchTokens: Chosen(shortRows).Rows * short}
	if long > short {
		longRows, err := s.Sweep(textShapes("long", rows, long), 1, measure)
		if err != nil {
			return Choice{}, err
		}
		c.MaxBatchTokens = max(c.MaxBatchTokens, Chosen(longRows).Rows*long)
	}
	if onGPU {
		c.MaxBatchTokens = min(c.MaxBatchTokens, gpuMaxBatchTokens)
	}
	return c, nil
}

func textShapes(stage string, rows []int, cols int) []Shape {
	out := make([]Shape, len(rows))
	for i, r := range rows {
		out[i] = Shape{Stage: stage, Rows: r, Cols: cols}
	}
	return out
}

// Rows is a batch of rows sequences of cols copies of id (one shared
// slice), the synthetic input of a text probe.
func Rows(rows, cols int, id int64) [][]int64 {
	seq := make([]int64, cols)
	for i := range seq {
		seq[i] = id
	}
	out := make([][]int64, rows)
	for i := range out {
		out[i] = seq
	}
	return out
}
