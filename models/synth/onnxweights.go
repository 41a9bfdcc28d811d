package synth

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// defaultONNXSeed seeds the ONNX generators when Options.Seed is 0.
const defaultONNXSeed = 0x5eed_0e1f

// weightSource draws deterministic weights for one model. Each tensor gets
// its own PCG stream keyed by (seed + model ID, tensor name), so a tensor's
// values do not depend on the order tensors are generated in.
type weightSource struct {
	key uint64
}

func newWeightSource(seed uint64, model string) weightSource {
	if seed == 0 {
		seed = defaultONNXSeed
	}
	return weightSource{key: seed ^ hash64(model)}
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func (w weightSource) rng(tensor string) *rand.Rand {
	return rand.New(rand.NewPCG(w.key, hash64(tensor)))
}

// uniform fills n values uniformly around center with the given standard
// deviation (half-width std·√3); uniform rather than normal because it is
// several times cheaper and bounded, which keeps every activation finite.
func (w weightSource) uniform(tensor string, n int, center, std float64) []float32 {
	r := w.rng(tensor)
	half := std * math.Sqrt(3)
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(center + half*(2*r.Float64()-1))
	}
	return out
}

// weightQuantMax is the int8 weight range ONNX Runtime's quantize_dynamic
// uses with reduce_range (as Xenova's exports do): [-64, 64]. Full-range
// int8 weights overflow the 16-bit pairwise sums of x86's u8×s8 kernels
// (2·255·127 > 32767), which ONNX Runtime does not guard against.
const weightQuantMax = 64

// quantizeSymmetric maps w to int8 with one scale and a zero point of 0, as
// ONNX Runtime's dynamic quantization does for QInt8 weights.
func quantizeSymmetric(w []float32) (q []int8, scale float32) {
	var maxAbs float32
	for _, v := range w {
		maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
	}
	scale = maxAbs / weightQuantMax
	if scale == 0 {
		scale = 1 // an all-zero tensor; any scale reproduces it
	}
	q = make([]int8, len(w))
	for i, v := range w {
		q[i] = int8(max(-weightQuantMax, min(weightQuantMax, math.Round(float64(v/scale)))))
	}
	return q, scale
}

// writeJSONFile writes v as indented JSON, creating parent directories.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
