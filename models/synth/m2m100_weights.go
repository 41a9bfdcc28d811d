package synth

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// m2m100Weights hands out the parameters of one synthetic M2M100, named as
// in transformers' M2M100ForConditionalGeneration. Each tensor's values
// depend only on the seed and its name, so the encoder and every decoder
// file agree on shared tensors (model.shared.weight above all), and a tensor
// is generated once however many graphs use it.
//
// Linear weights are stored [in, out], ready for MatMul, as torch.onnx
// exports them (transposed from PyTorch's [out, in]).
type m2m100Weights struct {
	d      M2M100Dims
	seed   uint64
	cache  map[string]*onnxgraph.Tensor
	values map[string][]float32  // cache's data, for quantization
	int8   map[string]m2m100Int8 // quantized forms, by float tensor name
}

func newM2M100Weights(d M2M100Dims, seed uint64) *m2m100Weights {
	return &m2m100Weights{d: d, seed: seed, cache: map[string]*onnxgraph.Tensor{},
		values: map[string][]float32{}, int8: map[string]m2m100Int8{}}
}

// Scales. With unit-variance embeddings (after the sqrt(d_model) scale),
// LeCun-scaled projections and LayerNorm gains near 1, every block's
// output has roughly unit variance, attention scores have unit variance
// (so softmax is neither flat nor one-hot) and the tied logits have a
// standard deviation near 1 at any size: finite, and varying with the
// input, through 24 layers as through 2.
const (
	m2m100BiasStd = 0.02
	m2m100GainStd = 0.05 // LayerNorm weight = 1 + noise
)

func (w *m2m100Weights) tensor(name string, dims []int64, fill func(rng *rand.Rand, data []float32)) *onnxgraph.Tensor {
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

// m2m100Uniform fills data with zero-mean uniform noise of the given
// standard deviation plus offset. Uniform rather than normal because it is
// several times cheaper, and a full-size model has half a billion values.
func m2m100Uniform(std, offset float32) func(*rand.Rand, []float32) {
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

// shared is the token embedding [vocab, d_model], used by the encoder, the
// decoder and (tied) the LM head. The pad row is zero, as nn.Embedding with
// padding_idx initializes it.
func (w *m2m100Weights) shared() *onnxgraph.Tensor {
	d := w.d
	std := float32(1 / math.Sqrt(float64(d.DModel)))
	return w.tensor("model.shared.weight", []int64{int64(d.Vocab), int64(d.DModel)}, func(rng *rand.Rand, data []float32) {
		m2m100Uniform(std, 0)(rng, data)
		clear(data[m2m100PadID*d.DModel : (m2m100PadID+1)*d.DModel])
	})
}

// m2m100PositionOffset is M2M100SinusoidalPositionalEmbedding's offset; its
// table has max_position_embeddings + 2*offset rows because transformers
// adds the offset twice (in __init__ and in make_weights).
const m2m100PositionOffset = 2

// positions is the fixed sinusoidal table of M2M100SinusoidalPositionalEmbedding
// (tensor2tensor layout: all sines, then all cosines; the pad row zero).
// component is "encoder" or "decoder"; both tables are equal, as in PyTorch.
func (w *m2m100Weights) positions(component string) *onnxgraph.Tensor {
	d := w.d.DModel
	rows := w.d.MaxPositions + 2*m2m100PositionOffset
	name := fmt.Sprintf("model.%s.embed_positions.weights", component)
	return w.tensor(name, []int64{int64(rows), int64(d)}, func(_ *rand.Rand, data []float32) {
		m2m100SinusoidTable(data, rows, d)
	})
}

// m2m100SinusoidTable fills table ([rows, d]) as transformers' get_embedding
// does, in float64 rounded once to float32.
func m2m100SinusoidTable(table []float32, rows, d int) {
	half := d / 2
	step := math.Log(10000) / float64(half-1)
	for p := range rows {
		if p == m2m100PadID {
			continue
		}
		row := table[p*d : (p+1)*d]
		for j := range half {
			angle := float64(p) * math.Exp(-float64(j)*step)
			row[j] = float32(math.Sin(angle))
			row[half+j] = float32(math.Cos(angle))
		}
	}
}

// linear returns the weight [in, out] and bias [out] of an nn.Linear.
func (w *m2m100Weights) linear(prefix string, in, out int) (weight, bias *onnxgraph.Tensor) {
	std := float32(1 / math.Sqrt(float64(in)))
	weight = w.tensor(prefix+".weight", []int64{int64(in), int64(out)}, m2m100Uniform(std, 0))
	bias = w.tensor(prefix+".bias", []int64{int64(out)}, m2m100Uniform(m2m100BiasStd, 0))
	return weight, bias
}

// layerNorm returns the gain and bias of an nn.LayerNorm over d_model.
func (w *m2m100Weights) layerNorm(prefix string) (gain, bias *onnxgraph.Tensor) {
	dims := []int64{int64(w.d.DModel)}
	gain = w.tensor(prefix+".weight", dims, m2m100Uniform(m2m100GainStd, 1))
	bias = w.tensor(prefix+".bias", dims, m2m100Uniform(m2m100BiasStd, 0))
	return gain, bias
}
