package synth

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
)

// gemmaReference is EmbeddingGemma in plain float64 loops, written from the
// model's definition (Hugging Face's Gemma3TextModel with
// use_bidirectional_attention, then sentence-transformers' Pooling, Dense,
// Dense, Normalize), not from the ONNX graph. Its weights come out of the
// generated file by their Hugging Face names; RoPE is computed from the
// bases, not read from the graph's tables.
type gemmaReference struct {
	d GemmaDims
	w map[string][]float32
}

func loadGemmaReference(t *testing.T, path string, d GemmaDims) *gemmaReference {
	t.Helper()
	m, err := onnxfile.ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	ref := &gemmaReference{d: d, w: map[string][]float32{}}
	for name, tp := range onnxfile.Initializers(m.GetGraph()) {
		if strings.HasPrefix(name, "rotary_emb") || !strings.HasSuffix(name, ".weight") {
			continue
		}
		if ref.w[name], err = onnxfile.Float32Values(tp, filepath.Dir(path)); err != nil {
			t.Fatal(err)
		}
	}
	return ref
}

// forward returns last_hidden_state of the real tokens ([seq][hidden], only
// positions where mask is 1) and the sentence embedding of one sequence.
// Padding must be on the right, as positions count from 0.
func (r *gemmaReference) forward(ids, mask []int64) (states [][]float64, embedding []float64) {
	d := r.d
	n := 0
	for _, m := range mask {
		n += int(m)
	}
	ids = ids[:n] // padded keys are invisible, so only real tokens matter
	x := make([][]float64, n)
	for s, id := range ids {
		x[s] = make([]float64, d.Hidden)
		for j := range d.Hidden {
			x[s][j] = float64(r.w["embed_tokens.weight"][int(id)*d.Hidden+j]) * math.Sqrt(float64(d.Hidden))
		}
	}
	for l := range d.Layers {
		x = r.layer(x, l)
	}
	for s := range x {
		x[s] = r.rmsNorm(x[s], "norm.weight")
	}
	pooled := make([]float64, d.Hidden)
	for s := range x {
		for j, v := range x[s] {
			pooled[j] += v / float64(n)
		}
	}
	dense := gemmaMatVec(gemmaMatVec(pooled, r.w["2.linear.weight"], d.DenseIntermediate), r.w["3.linear.weight"], d.Hidden)
	var norm float64
	for _, v := range dense {
		norm += v * v
	}
	for j := range dense {
		dense[j] /= math.Sqrt(norm)
	}
	return x, dense
}

func (r *gemmaReference) layer(x [][]float64, l int) [][]float64 {
	d, p := r.d, fmt.Sprintf("layers.%d.", l)
	seq, hd, groups := len(x), d.HeadDim, d.Heads/d.KVHeads
	theta := d.RopeTheta
	// Hugging Face: sliding_window becomes sliding_window//2 + 1 for
	// bidirectional attention, and a key is visible when |i-j| < that.
	window := seq
	if d.Sliding(l) {
		theta, window = d.RopeLocalTheta, d.SlidingWindow/2+1
	}
	q, k, v := make([][]float64, seq), make([][]float64, seq), make([][]float64, seq)
	for s := range x {
		h := r.rmsNorm(x[s], p+"input_layernorm.weight")
		q[s] = gemmaMatVec(h, r.w[p+"self_attn.q_proj.weight"], d.Heads*hd)
		k[s] = gemmaMatVec(h, r.w[p+"self_attn.k_proj.weight"], d.KVHeads*hd)
		v[s] = gemmaMatVec(h, r.w[p+"self_attn.v_proj.weight"], d.KVHeads*hd)
		for hh := range d.Heads {
			copy(q[s][hh*hd:], rope(r.rmsNorm(q[s][hh*hd:(hh+1)*hd], p+"self_attn.q_norm.weight"), s, theta))
		}
		for hh := range d.KVHeads {
			copy(k[s][hh*hd:], rope(r.rmsNorm(k[s][hh*hd:(hh+1)*hd], p+"self_attn.k_norm.weight"), s, theta))
		}
	}
	scale := math.Pow(d.QueryPreAttnScalar, -0.5)
	out := make([][]float64, seq)
	for i := range seq {
		ctx := make([]float64, d.Heads*hd)
		for hh := range d.Heads {
			kh := hh / groups
			scores := make([]float64, seq)
			top := math.Inf(-1)
			for j := range seq {
				scores[j] = math.Inf(-1)
				if abs(i-j) < window {
					var dot float64
					for c := range hd {
						dot += q[i][hh*hd+c] * k[j][kh*hd+c]
					}
					scores[j] = dot * scale
				}
				top = max(top, scores[j])
			}
			var sum float64
			for j := range scores {
				scores[j] = math.Exp(scores[j] - top)
				sum += scores[j]
			}
			for j := range seq {
				for c := range hd {
					ctx[hh*hd+c] += scores[j] / sum * v[j][kh*hd+c]
				}
			}
		}
		attn := r.rmsNorm(gemmaMatVec(ctx, r.w[p+"self_attn.o_proj.weight"], d.Hidden), p+"post_attention_layernorm.weight")
		out[i] = refAdd(x[i], attn)
	}
	for s := range out {
		h := r.rmsNorm(out[s], p+"pre_feedforward_layernorm.weight")
		gate := gemmaMatVec(h, r.w[p+"mlp.gate_proj.weight"], d.Intermediate)
		up := gemmaMatVec(h, r.w[p+"mlp.up_proj.weight"], d.Intermediate)
		for j, g := range gate {
			gate[j] = 0.5 * g * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(g+0.044715*g*g*g))) * up[j]
		}
		ff := r.rmsNorm(gemmaMatVec(gate, r.w[p+"mlp.down_proj.weight"], d.Hidden), p+"post_feedforward_layernorm.weight")
		out[s] = refAdd(out[s], ff)
	}
	return out
}

// rmsNorm is Gemma's x/√(mean(x²)+ε)·(1+w).
func (r *gemmaReference) rmsNorm(x []float64, name string) []float64 {
	w := r.w[name]
	var ms float64
	for _, v := range x {
		ms += v * v
	}
	inv := 1 / math.Sqrt(ms/float64(len(x))+gemmaRMSNormEps)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v * inv * (1 + float64(w[i]))
	}
	return out
}

// rope rotates one head at position pos: element i pairs with i+hd/2 at
// angle pos·θ^(-2i/hd).
func rope(x []float64, pos int, theta float64) []float64 {
	half := len(x) / 2
	out := make([]float64, len(x))
	for i := range half {
		angle := float64(pos) / math.Pow(theta, float64(2*i)/float64(len(x)))
		c, s := math.Cos(angle), math.Sin(angle)
		out[i] = x[i]*c - x[i+half]*s
		out[i+half] = x[i+half]*c + x[i]*s
	}
	return out
}

// gemmaMatVec is x·W with W stored [len(x), out].
func gemmaMatVec(x []float64, w []float32, out int) []float64 {
	y := make([]float64, out)
	for i, xv := range x {
		for o := range out {
			y[o] += xv * float64(w[i*out+o])
		}
	}
	return y
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
