package synth

import (
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// encDecWeights hands out the parameters of one synthetic encoder-decoder
// (M2M100, Whisper), named as in the transformers model. Each tensor's
// values depend only on the seed and its name, so the encoder and every
// decoder file agree on shared tensors (the token embedding above all), and
// a tensor is generated once however many graphs use it.
//
// Linear weights are stored [in, out], ready for MatMul, as torch.onnx
// exports them (transposed from PyTorch's [out, in]).
type encDecWeights struct {
	seed   uint64
	dModel int
	cache  map[string]*onnxgraph.Tensor
	values map[string][]float32  // cache's data, for quantization
	int8   map[string]int8Weight // quantized forms, by float tensor name
}

func newEncDecWeights(dModel int, seed uint64) *encDecWeights {
	return &encDecWeights{seed: seed, dModel: dModel, cache: map[string]*onnxgraph.Tensor{},
		values: map[string][]float32{}, int8: map[string]int8Weight{}}
}

// Scales. With unit-variance embeddings, LeCun-scaled projections and
// LayerNorm gains near 1, every block's output has roughly unit variance,
// attention scores have unit variance (so softmax is neither flat nor
// one-hot) and the tied logits have a standard deviation near 1 at any
// size: finite, and varying with the input, through 32 layers as through 2.
const (
	encDecBiasStd = 0.02
	encDecGainStd = 0.05 // LayerNorm weight = 1 + noise
)

func (w *encDecWeights) tensor(name string, dims []int64, fill func(rng *rand.Rand, data []float32)) *onnxgraph.Tensor {
	if t, ok := w.cache[name]; ok {
		return t
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	rng := rand.New(rand.NewPCG(w.seed, h.Sum64()))
	data := make([]float32, onnxgraph.NumElements(dims))
	fill(rng, data)
	t := onnxgraph.Float32Tensor(name, dims, data)
	w.cache[name] = t
	w.values[name] = data
	return t
}

// encDecUniform fills data with zero-mean uniform noise of the given
// standard deviation plus offset. Uniform rather than normal because it is
// several times cheaper, and a full-size model has billions of values.
func encDecUniform(std, offset float32) func(*rand.Rand, []float32) {
	a := 2 * std * float32(math.Sqrt(3)) // the width of U(-√3σ, √3σ)
	return func(rng *rand.Rand, data []float32) {
		const scale = 1.0 / (1 << 24)
		for i := 0; i < len(data); i += 2 {
			u := rng.Uint64() // two 24-bit uniforms per draw
			data[i] = (float32(u>>40)*scale-0.5)*a + offset
			if i+1 < len(data) {
				data[i+1] = (float32(u&(1<<24-1))*scale-0.5)*a + offset
			}
		}
	}
}

// linear returns the weight [in, out] and bias [out] of an nn.Linear.
func (w *encDecWeights) linear(prefix string, in, out int) (weight, bias *onnxgraph.Tensor) {
	return w.linearWeight(prefix, in, out), w.tensor(prefix+".bias", []int64{int64(out)}, encDecUniform(encDecBiasStd, 0))
}

// linearWeight returns the weight [in, out] of an nn.Linear, alone for one
// built with bias=False (Whisper's k_proj).
func (w *encDecWeights) linearWeight(prefix string, in, out int) *onnxgraph.Tensor {
	std := float32(1 / math.Sqrt(float64(in)))
	return w.tensor(prefix+".weight", []int64{int64(in), int64(out)}, encDecUniform(std, 0))
}

// layerNorm returns the gain and bias of an nn.LayerNorm over d_model.
func (w *encDecWeights) layerNorm(prefix string) (gain, bias *onnxgraph.Tensor) {
	dims := []int64{int64(w.dModel)}
	gain = w.tensor(prefix+".weight", dims, encDecUniform(encDecGainStd, 1))
	bias = w.tensor(prefix+".bias", dims, encDecUniform(encDecBiasStd, 0))
	return gain, bias
}

// sinusoidTable fills table ([rows, d]) with the tensor2tensor layout
// transformers' M2M100 get_embedding and Whisper's sinusoids share (all
// sines, then all cosines, timescales 1…10000), in float64 rounded once
// to float32.
func sinusoidTable(table []float32, rows, d int) {
	half := d / 2
	step := math.Log(10000) / float64(half-1)
	for p := range rows {
		row := table[p*d : (p+1)*d]
		for j := range half {
			angle := float64(p) * math.Exp(-float64(j)*step)
			row[j] = float32(math.Sin(angle))
			row[half+j] = float32(math.Cos(angle))
		}
	}
}
