package synth

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
)

// qwen3Reference is Qwen3Model (the decoder Qwen3-Embedding runs) in plain
// float64 loops, written from Hugging Face's definition, not from the ONNX
// graph: causal attention with per-head q/k RMSNorm, RoPE computed from
// rope_theta (not read from the graph), grouped KV heads, SwiGLU and a final
// RMSNorm. Its weights come out of the generated file by their Hugging Face
// names.
type qwen3Reference struct {
	d Qwen3Dims
	w map[string][]float32
}

func loadQwen3Reference(t *testing.T, path string, d Qwen3Dims) *qwen3Reference {
	t.Helper()
	m, err := onnxfile.ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	ref := &qwen3Reference{d: d, w: map[string][]float32{}}
	for name, tp := range onnxfile.Initializers(m.GetGraph()) {
		if !strings.HasSuffix(name, ".weight") {
			continue
		}
		if ref.w[name], err = onnxfile.Float32Values(tp, filepath.Dir(path)); err != nil {
			t.Fatal(err)
		}
	}
	if len(ref.w) != 2+11*d.Layers {
		t.Fatalf("%s holds %d weights, want %d", path, len(ref.w), 2+11*d.Layers)
	}
	return ref
}

// forward returns last_hidden_state [seq][hidden] of one unpadded sequence.
func (r *qwen3Reference) forward(ids []int64) [][]float64 {
	d := r.d
	x := make([][]float64, len(ids))
	for s, id := range ids {
		x[s] = make([]float64, d.Hidden)
		for j := range d.Hidden {
			x[s][j] = float64(r.w["embed_tokens.weight"][int(id)*d.Hidden+j])
		}
	}
	for l := range d.Layers {
		x = r.layer(x, fmt.Sprintf("layers.%d.", l))
	}
	for s := range x {
		x[s] = r.rmsNorm(x[s], "norm.weight")
	}
	return x
}

func (r *qwen3Reference) layer(x [][]float64, p string) [][]float64 {
	d := r.d
	seq, hd, groups := len(x), d.HeadDim, d.Heads/d.KVHeads
	q, k, v := make([][]float64, seq), make([][]float64, seq), make([][]float64, seq)
	for s := range x {
		h := r.rmsNorm(x[s], p+"input_layernorm.weight")
		q[s] = gemmaMatVec(h, r.w[p+"self_attn.q_proj.weight"], d.Heads*hd)
		k[s] = gemmaMatVec(h, r.w[p+"self_attn.k_proj.weight"], d.KVHeads*hd)
		v[s] = gemmaMatVec(h, r.w[p+"self_attn.v_proj.weight"], d.KVHeads*hd)
		for hh := range d.Heads {
			copy(q[s][hh*hd:], rope(r.rmsNorm(q[s][hh*hd:(hh+1)*hd], p+"self_attn.q_norm.weight"), s, d.RopeTheta))
		}
		for hh := range d.KVHeads {
			copy(k[s][hh*hd:], rope(r.rmsNorm(k[s][hh*hd:(hh+1)*hd], p+"self_attn.k_norm.weight"), s, d.RopeTheta))
		}
	}
	scale := 1 / math.Sqrt(float64(hd))
	out := make([][]float64, seq)
	for i := range seq {
		ctx := make([]float64, d.Heads*hd)
		for hh := range d.Heads {
			kh := hh / groups
			scores := make([]float64, i+1) // causal: keys 0..i
			top := math.Inf(-1)
			for j := range scores {
				var dot float64
				for c := range hd {
					dot += q[i][hh*hd+c] * k[j][kh*hd+c]
				}
				scores[j] = dot * scale
				top = max(top, scores[j])
			}
			var sum float64
			for j := range scores {
				scores[j] = math.Exp(scores[j] - top)
				sum += scores[j]
			}
			for j := range scores {
				for c := range hd {
					ctx[hh*hd+c] += scores[j] / sum * v[j][kh*hd+c]
				}
			}
		}
		out[i] = refAdd(x[i], gemmaMatVec(ctx, r.w[p+"self_attn.o_proj.weight"], d.Hidden))
	}
	for s := range out {
		h := r.rmsNorm(out[s], p+"post_attention_layernorm.weight")
		gate := gemmaMatVec(h, r.w[p+"mlp.gate_proj.weight"], d.Intermediate)
		up := gemmaMatVec(h, r.w[p+"mlp.up_proj.weight"], d.Intermediate)
		for j, g := range gate {
			gate[j] = g / (1 + math.Exp(-g)) * up[j]
		}
		out[s] = refAdd(out[s], gemmaMatVec(gate, r.w[p+"mlp.down_proj.weight"], d.Hidden))
	}
	return out
}

// rmsNorm is Qwen3's x/√(mean(x²)+ε)·w.
func (r *qwen3Reference) rmsNorm(x []float64, name string) []float64 {
	w := r.w[name]
	var ms float64
	for _, v := range x {
		ms += v * v
	}
	inv := 1 / math.Sqrt(ms/float64(len(x))+qwen3RMSNormEps)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v * inv * float64(w[i])
	}
	return out
}
