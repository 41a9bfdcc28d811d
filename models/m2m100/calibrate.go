package m2m100

import (
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/calibrate"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/seq2seq"
)

// Calibration inputs: sources of probeTokens tokens, decoded for
// probeSteps steps per measured cohort.
const (
	probeTokens = 32
	probeSteps  = 8
)

// calibrated returns spec with the measured encoder budget and cohort width
// filled in where the config leaves max_batch_tokens and max_batch_size
// unset. It runs the model's own encoder and cohorts before the scheduler
// starts, then clears the counters it moved.
func (m *Model) calibrated(spec engine.ModelSpec, files []string) engine.ModelSpec {
	if !calibrate.Enabled(spec) || (spec.Config.MaxBatchSize > 0 && spec.Config.MaxBatchTokens > 0) {
		return spec
	}
	var all []string
	for _, f := range files {
		all = append(all, calibrate.SessionFiles(f)...)
	}
	choice, ok := calibrate.Run(calibrate.Plan{Spec: spec, Files: all, Probe: m.probe})
	m.stats.Cohorts.Store(0)
	m.stats.Requests.Store(0)
	m.stats.Steps.Store(0)
	m.stats.DecoderRows.Store(0)
	if !ok {
		return spec
	}
	return choice.Over(spec)
}

// probe sweeps the encoder batch, then the cohort width: requests decoding
// together, measured in decoder rows per second over probeSteps steps (a
// request holds one row per beam).
func (m *Model) probe(s *calibrate.Sweeper) (calibrate.Choice, error) {
	onGPU := m.enc.OnGPU()
	encRows, widths := calibrate.Doubling(1, 64), calibrate.Doubling(1, 32)
	if onGPU {
		encRows, widths = calibrate.Doubling(4, 128), calibrate.Doubling(4, 64)
	}
	cols := min(probeTokens, m.maxInputTokens)
	jobs := m.probeJobs(max(encRows[len(encRows)-1], widths[len(widths)-1]), cols)
	shapes := func(stage string, rows []int) []calibrate.Shape {
		out := make([]calibrate.Shape, len(rows))
		for i, r := range rows {
			out[i] = calibrate.Shape{Stage: stage, Rows: r, Cols: cols}
		}
		return out
	}
	enc, err := s.Sweep(shapes("encoder", encRows), 0.3, func(sh calibrate.Shape) (float64, error) {
		return calibrate.Rate(1, func() (int, error) {
			_, err := m.encode(jobs[:sh.Rows])
			return sh.Rows, err
		})
	})
	if err != nil {
		return calibrate.Choice{}, err
	}
	dec, err := s.Sweep(shapes("cohort", widths), 1, func(sh calibrate.Shape) (float64, error) {
		return calibrate.Rate(1, func() (int, error) { return m.probeCohort(jobs[:sh.Rows]) })
	})
	if err != nil {
		return calibrate.Choice{}, err
	}
	width := calibrate.Chosen(dec).Rows
	// A new cohort is bounded by tokens too: the budget must not cut the
	// measured width short for sources of the probe's length.
	return calibrate.Choice{MaxBatchSize: width, MaxBatchTokens: max(calibrate.Chosen(enc).Rows, width) * cols}, nil
}

// probeJobs are n identical sources of cols tokens (language token, pieces,
// </s>) into a second language.
func (m *Model) probeJobs(n, cols int) []job {
	src := m.tok.encode(strings.Repeat("the weather is fine today ", cols), 0)
	src = append(src[:cols-1], m.tok.eos)
	jobs := make([]job, n)
	for i := range jobs {
		jobs[i] = job{src: src, tgt: m.tok.langID(1)}
	}
	return jobs
}

// probeCohort starts a cohort of jobs and runs up to probeSteps decoder
// steps; it returns the decoder rows computed.
func (m *Model) probeCohort(jobs []job) (int, error) {
	before := m.stats.DecoderRows.Load()
	c, err := m.startCohort(jobs)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	for step := 0; step < probeSteps && c.(*seq2seq.Cohort[seq2seq.Hypothesis]).Live() > 0; step++ {
		if _, err := c.Step(); err != nil {
			return 0, err
		}
	}
	return int(m.stats.DecoderRows.Load() - before), nil
}

// sessionPaths are the files of the open sessions (nil ones skipped).
func sessionPaths(sessions ...*ort.Session) []string {
	var out []string
	for _, s := range sessions {
		if s != nil {
			out = append(out, s.Path())
		}
	}
	return out
}
