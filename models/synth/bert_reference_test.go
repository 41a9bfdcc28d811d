package synth

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
)

// bertReference is a plain-loop BERT-family encoder (BERT, DistilBERT,
// XLM-RoBERTa) in float64, written from the models' definitions (Hugging
// Face BertModel, DistilBertForSequenceClassification,
// XLMRobertaForSequenceClassification), not from the ONNX graph. Its
// weights come out of the generated file by their Hugging Face names, so a
// graph that wires any of them wrongly disagrees with it.
type bertReference struct {
	d BertDims
	a encoderArch
	w map[string][]float32
}

func loadBertReference(t *testing.T, path string, d BertDims, a encoderArch) *bertReference {
	t.Helper()
	m, err := onnxfile.ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	inits := onnxfile.Initializers(m.GetGraph())
	ref := &bertReference{d: d, a: a, w: map[string][]float32{}}
	e := a.prefix + "embeddings."
	need := []string{e + "word_embeddings.weight", e + "position_embeddings.weight", e + "LayerNorm.weight", e + "LayerNorm.bias"}
	if d.TypeVocab > 0 {
		need = append(need, e+"token_type_embeddings.weight")
	}
	s := a.sub
	for l := range d.Layers {
		for _, sub := range []string{s.query, s.key, s.value, s.attnOut, s.attnNorm, s.inter, s.out, s.outNorm} {
			p := a.layerPrefix(l) + sub
			need = append(need, p+".weight", p+".bias")
		}
	}
	if a.head != headNone {
		first, second := a.headParams()
		need = append(need, first+".weight", first+".bias", second+".weight", second+".bias")
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

// forward returns last_hidden_state [batch][seq][hidden]; types may be nil
// (every token of type 0).
func (r *bertReference) forward(ids, mask, types [][]int64) [][][]float64 {
	out := make([][][]float64, len(ids))
	for b := range ids {
		var tt []int64
		if types != nil {
			tt = types[b]
		}
		out[b] = r.sequence(ids[b], mask[b], tt)
	}
	return out
}

// logits runs the classification head on the first token of each row of
// forward's result: [batch][labels].
func (r *bertReference) logits(states [][][]float64) [][]float64 {
	first, second := r.a.headParams()
	out := make([][]float64, len(states))
	for b, seq := range states {
		h := r.linearAll([][]float64{seq[0]}, first)[0]
		for i, v := range h {
			if r.a.head == headRoBERTa {
				h[i] = math.Tanh(v)
			} else {
				h[i] = max(v, 0)
			}
		}
		out[b] = r.linearAll([][]float64{h}, second)[0]
	}
	return out
}

// positionIDs numbers a row's tokens: 0..S-1, or as RoBERTa's
// create_position_ids_from_input_ids does (real tokens from padIdx+1 on,
// pads at padIdx).
func (r *bertReference) positionIDs(ids []int64) []int64 {
	pos := make([]int64, len(ids))
	next := r.a.padIdx
	for s, id := range ids {
		switch {
		case r.a.padIdx < 0:
			pos[s] = int64(s)
		case id == r.a.padIdx:
			pos[s] = r.a.padIdx
		default:
			next++
			pos[s] = next
		}
	}
	return pos
}

func (r *bertReference) sequence(ids, mask, types []int64) [][]float64 {
	h := r.d.Hidden
	e := r.a.prefix + "embeddings."
	pos := r.positionIDs(ids)
	x := make([][]float64, len(ids))
	for s := range ids {
		x[s] = make([]float64, h)
		for j := range h {
			x[s][j] = float64(r.w[e+"word_embeddings.weight"][int(ids[s])*h+j]) +
				float64(r.w[e+"position_embeddings.weight"][int(pos[s])*h+j])
			if r.d.TypeVocab > 0 {
				var tt int64
				if types != nil {
					tt = types[s]
				}
				x[s][j] += float64(r.w[e+"token_type_embeddings.weight"][int(tt)*h+j])
			}
		}
		x[s] = r.layerNorm(x[s], e+"LayerNorm")
	}
	for l := range r.d.Layers {
		x = r.layer(x, mask, r.a.layerPrefix(l))
	}
	return x
}

func (r *bertReference) layer(x [][]float64, mask []int64, p string) [][]float64 {
	seq, heads, dh, sub := len(x), r.d.Heads, r.d.HeadDim(), r.a.sub
	q := r.linearAll(x, p+sub.query)
	k := r.linearAll(x, p+sub.key)
	v := r.linearAll(x, p+sub.value)
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
	attn := r.linearAll(ctx, p+sub.attnOut)
	for i := range x {
		x[i] = r.layerNorm(refAdd(attn[i], x[i]), p+sub.attnNorm)
	}
	inter := r.linearAll(x, p+sub.inter)
	for i := range inter {
		for j, u := range inter[i] {
			inter[i][j] = u * 0.5 * (1 + math.Erf(u/math.Sqrt2))
		}
	}
	ff := r.linearAll(inter, p+sub.out)
	for i := range x {
		x[i] = r.layerNorm(refAdd(ff[i], x[i]), p+sub.outNorm)
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
		out[i] = (v-mean)/math.Sqrt(variance+r.a.eps)*float64(gamma[i]) + float64(beta[i])
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
