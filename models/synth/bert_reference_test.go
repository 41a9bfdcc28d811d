package synth

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
)

// bertReference is a plain-loop BERT encoder in float64, written from the
// model's definition (Hugging Face BertModel), not from the ONNX graph. Its
// weights come out of the generated file by their Hugging Face names, so a
// graph that wires any of them wrongly disagrees with it.
type bertReference struct {
	d BertDims
	w map[string][]float32
}

func loadBertReference(t *testing.T, path string, d BertDims) *bertReference {
	t.Helper()
	m, err := onnxfile.ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	inits := onnxfile.Initializers(m.GetGraph())
	ref := &bertReference{d: d, w: map[string][]float32{}}
	need := []string{"embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
		"embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"}
	for l := range d.Layers {
		for _, s := range []string{"attention.self.query", "attention.self.key", "attention.self.value",
			"attention.output.dense", "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"} {
			p := fmt.Sprintf("encoder.layer.%d.%s", l, s)
			need = append(need, p+".weight", p+".bias")
		}
	}
	for _, name := range need {
		tp, ok := inits[name]
		if !ok {
			t.Fatalf("%s has no initializer %s", path, name)
		}
		if ref.w[name], err = onnxfile.Float32Values(tp, filepath.Dir(path)); err != nil {
			t.Fatal(err)
		}
	}
	return ref
}

// forward returns last_hidden_state [batch][seq][hidden].
func (r *bertReference) forward(ids, mask, types [][]int64) [][][]float64 {
	out := make([][][]float64, len(ids))
	for b := range ids {
		out[b] = r.sequence(ids[b], mask[b], types[b])
	}
	return out
}

func (r *bertReference) sequence(ids, mask, types []int64) [][]float64 {
	h := r.d.Hidden
	x := make([][]float64, len(ids))
	for s := range ids {
		x[s] = make([]float64, h)
		for j := range h {
			x[s][j] = float64(r.w["embeddings.word_embeddings.weight"][int(ids[s])*h+j]) +
				float64(r.w["embeddings.position_embeddings.weight"][s*h+j]) +
				float64(r.w["embeddings.token_type_embeddings.weight"][int(types[s])*h+j])
		}
		x[s] = r.layerNorm(x[s], "embeddings.LayerNorm")
	}
	for l := range r.d.Layers {
		x = r.layer(x, mask, fmt.Sprintf("encoder.layer.%d.", l))
	}
	return x
}

func (r *bertReference) layer(x [][]float64, mask []int64, p string) [][]float64 {
	seq, heads, dh := len(x), r.d.Heads, r.d.HeadDim()
	q := r.linearAll(x, p+"attention.self.query")
	k := r.linearAll(x, p+"attention.self.key")
	v := r.linearAll(x, p+"attention.self.value")
	ctx := make([][]float64, seq)
	for i := range seq {
		ctx[i] = make([]float64, r.d.Hidden)
		for hd := range heads {
			scores := make([]float64, seq)
			top := math.Inf(-1)
			for j := range seq {
				var dot float64
				for c := range dh {
					dot += q[i][hd*dh+c] * k[j][hd*dh+c]
				}
				scores[j] = dot/math.Sqrt(float64(dh)) + float64(1-mask[j])*-math.MaxFloat32
				top = max(top, scores[j])
			}
			var sum float64
			for j := range scores {
				scores[j] = math.Exp(scores[j] - top)
				sum += scores[j]
			}
			for j := range seq {
				for c := range dh {
					ctx[i][hd*dh+c] += scores[j] / sum * v[j][hd*dh+c]
				}
			}
		}
	}
	attn := r.linearAll(ctx, p+"attention.output.dense")
	for i := range x {
		x[i] = r.layerNorm(refAdd(attn[i], x[i]), p+"attention.output.LayerNorm")
	}
	inter := r.linearAll(x, p+"intermediate.dense")
	for i := range inter {
		for j, u := range inter[i] {
			inter[i][j] = u * 0.5 * (1 + math.Erf(u/math.Sqrt2))
		}
	}
	ff := r.linearAll(inter, p+"output.dense")
	for i := range x {
		x[i] = r.layerNorm(refAdd(ff[i], x[i]), p+"output.LayerNorm")
	}
	return x
}

// linearAll applies x·W + b row by row; W is stored [in, out].
func (r *bertReference) linearAll(x [][]float64, prefix string) [][]float64 {
	w, b := r.w[prefix+".weight"], r.w[prefix+".bias"]
	in, out := len(x[0]), len(b)
	y := make([][]float64, len(x))
	for s := range x {
		y[s] = make([]float64, out)
		for o := range out {
			acc := float64(b[o])
			for i := range in {
				acc += x[s][i] * float64(w[i*out+o])
			}
			y[s][o] = acc
		}
	}
	return y
}

func (r *bertReference) layerNorm(x []float64, prefix string) []float64 {
	gamma, beta := r.w[prefix+".weight"], r.w[prefix+".bias"]
	var mean, variance float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		variance += (v - mean) * (v - mean)
	}
	variance /= float64(len(x))
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = (v-mean)/math.Sqrt(variance+bertLayerNormEps)*float64(gamma[i]) + float64(beta[i])
	}
	return out
}

func refAdd(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}
