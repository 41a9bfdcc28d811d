package synth

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// m2m100Ref is a plain-Go M2M100 written from transformers'
// modeling_m2m_100.py, independent of the ONNX graph code: it reads the
// weights out of a generated file and evaluates in float64.
type m2m100Ref struct {
	d M2M100Dims
	w map[string][]float32
}

// loadM2M100Ref reads every float32 initializer of an ONNX file.
func loadM2M100Ref(t *testing.T, path string, d M2M100Dims) *m2m100Ref {
	t.Helper()
	m, err := onnxfile.ReadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	r := &m2m100Ref{d: d, w: map[string][]float32{}}
	for name, tp := range onnxfile.Initializers(m.GetGraph()) {
		if onnxgraph.DataType(tp.GetDataType()) != onnxgraph.Float {
			continue
		}
		vals, err := onnxfile.Float32Values(tp, filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		r.w[name] = vals
	}
	return r
}

func (r *m2m100Ref) weight(name string) []float32 {
	w, ok := r.w[name]
	if !ok {
		panic("reference: no weight " + name)
	}
	return w
}

// m2mMat is a [rows][cols] activation.
type m2mMat [][]float64

func newM2MMat(rows, cols int) m2mMat {
	m := make(m2mMat, rows)
	for i := range m {
		m[i] = make([]float64, cols)
	}
	return m
}

// embed is embed_tokens·sqrt(d) plus the sinusoidal positions of
// create_position_ids_from_input_ids (the reference never caches, so the
// past length is 0).
func (r *m2m100Ref) embed(ids []int64, component string) m2mMat {
	d := r.d.DModel
	shared := r.weight("model.shared.weight")
	table := r.weight(fmt.Sprintf("model.%s.embed_positions.weights", component))
	h := newM2MMat(len(ids), d)
	nonPad := 0
	for i, id := range ids {
		pos := m2m100PadID
		if id != m2m100PadID {
			nonPad++
			pos = m2m100PadID + nonPad
		}
		for j := range d {
			h[i][j] = float64(shared[int(id)*d+j])*math.Sqrt(float64(d)) + float64(table[pos*d+j])
		}
	}
	return h
}

func (r *m2m100Ref) layerNorm(x m2mMat, prefix string) m2mMat {
	g, b := r.weight(prefix+".weight"), r.weight(prefix+".bias")
	out := newM2MMat(len(x), len(x[0]))
	for i, row := range x {
		var mean, varSum float64
		for _, v := range row {
			mean += v
		}
		mean /= float64(len(row))
		for _, v := range row {
			varSum += (v - mean) * (v - mean)
		}
		inv := 1 / math.Sqrt(varSum/float64(len(row))+layerNormEps)
		for j, v := range row {
			out[i][j] = (v-mean)*inv*float64(g[j]) + float64(b[j])
		}
	}
	return out
}

// linear is x·W + b with W stored [in, out].
func (r *m2m100Ref) linear(x m2mMat, prefix string) m2mMat {
	w, b := r.weight(prefix+".weight"), r.weight(prefix+".bias")
	in, out := len(x[0]), len(b)
	y := newM2MMat(len(x), out)
	for i, row := range x {
		for o := range out {
			s := float64(b[o])
			for k := range in {
				s += row[k] * float64(w[k*out+o])
			}
			y[i][o] = s
		}
	}
	return y
}

func m2mAdd(a, b m2mMat) m2mMat {
	out := newM2MMat(len(a), len(a[0]))
	for i := range a {
		for j := range a[i] {
			out[i][j] = a[i][j] + b[i][j]
		}
	}
	return out
}

// attention is M2M100Attention with keys and values already projected
// ([S][d_model], heads side by side); visible(i, j) says whether query i
// may see key j.
func (r *m2m100Ref) attention(x, k, v m2mMat, prefix string, visible func(i, j int) bool) m2mMat {
	hd := r.d.HeadDim()
	q := r.linear(x, prefix+".q_proj")
	ctx := newM2MMat(len(q), r.d.DModel)
	scores := make([]float64, len(k))
	for h := range r.d.Heads {
		lo := h * hd
		for i := range q {
			best := math.Inf(-1)
			for j := range k {
				s := 0.0
				for c := lo; c < lo+hd; c++ {
					s += q[i][c] / math.Sqrt(float64(hd)) * k[j][c]
				}
				if !visible(i, j) {
					s += maskMin
				}
				scores[j] = s
				best = max(best, s)
			}
			var sum float64
			for j := range scores {
				scores[j] = math.Exp(scores[j] - best)
				sum += scores[j]
			}
			for j := range k {
				for c := lo; c < lo+hd; c++ {
					ctx[i][c] += scores[j] / sum * v[j][c]
				}
			}
		}
	}
	return r.linear(ctx, prefix+".out_proj")
}

func (r *m2m100Ref) ffn(h m2mMat, prefix string) m2mMat {
	x := r.linear(r.layerNorm(h, prefix+".final_layer_norm"), prefix+".fc1")
	for _, row := range x {
		for j := range row {
			row[j] = max(row[j], 0)
		}
	}
	return m2mAdd(h, r.linear(x, prefix+".fc2"))
}

// encode runs the encoder on one sequence.
func (r *m2m100Ref) encode(ids, mask []int64) m2mMat {
	h := r.embed(ids, "encoder")
	visible := func(_, j int) bool { return mask[j] != 0 }
	for i := range r.d.EncoderLayers {
		p := fmt.Sprintf("model.encoder.layers.%d", i)
		x := r.layerNorm(h, p+".self_attn_layer_norm")
		k, v := r.linear(x, p+".self_attn.k_proj"), r.linear(x, p+".self_attn.v_proj")
		h = r.ffn(m2mAdd(h, r.attention(x, k, v, p+".self_attn", visible)), p)
	}
	return r.layerNorm(h, "model.encoder.layer_norm")
}

// m2m100RefCache is one layer's keys and values as [T][d_model].
type m2m100RefCache struct{ selfK, selfV, crossK, crossV m2mMat }

// decode runs the decoder over a whole target prefix without a cache, as
// HF does with use_cache=False; it returns logits for every position and
// each layer's keys and values.
func (r *m2m100Ref) decode(ids []int64, enc m2mMat, encMask []int64) (m2mMat, []m2m100RefCache) {
	h := r.embed(ids, "decoder")
	causal := func(i, j int) bool { return j <= i }
	cross := func(_, j int) bool { return encMask[j] != 0 }
	caches := make([]m2m100RefCache, r.d.DecoderLayers)
	for i := range r.d.DecoderLayers {
		p := fmt.Sprintf("model.decoder.layers.%d", i)
		c := &caches[i]
		x := r.layerNorm(h, p+".self_attn_layer_norm")
		c.selfK, c.selfV = r.linear(x, p+".self_attn.k_proj"), r.linear(x, p+".self_attn.v_proj")
		h = m2mAdd(h, r.attention(x, c.selfK, c.selfV, p+".self_attn", causal))
		x = r.layerNorm(h, p+".encoder_attn_layer_norm")
		c.crossK, c.crossV = r.linear(enc, p+".encoder_attn.k_proj"), r.linear(enc, p+".encoder_attn.v_proj")
		h = m2mAdd(h, r.attention(x, c.crossK, c.crossV, p+".encoder_attn", cross))
		h = r.ffn(h, p)
	}
	h = r.layerNorm(h, "model.decoder.layer_norm")
	shared := r.weight("model.shared.weight")
	d := r.d.DModel
	logits := newM2MMat(len(h), r.d.Vocab)
	for i, row := range h {
		for tok := range r.d.Vocab {
			var s float64
			for j, v := range row {
				s += v * float64(shared[tok*d+j])
			}
			logits[i][tok] = s
		}
	}
	return logits, caches
}

// heads reads row b of a [B, heads, T, head_dim] tensor back as [T][d_model].
func m2mHeads(data []float32, b, t int, d M2M100Dims) m2mMat {
	m := newM2MMat(t, d.DModel)
	hd := d.HeadDim()
	for h := range d.Heads {
		for i := range t {
			for c := range hd {
				m[i][h*hd+c] = float64(data[((b*d.Heads+h)*t+i)*hd+c])
			}
		}
	}
	return m
}

// rows reads item b of a [B, T, width] tensor as [T][width].
func m2mRows(data []float32, b, t, width int) m2mMat {
	m := newM2MMat(t, width)
	for i := range t {
		for j := range width {
			m[i][j] = float64(data[(b*t+i)*width+j])
		}
	}
	return m
}

// m2mMaxDiff is the largest absolute difference between two equally shaped
// matrices; NaN anywhere makes it infinite.
func m2mMaxDiff(a, b m2mMat) float64 {
	worst := 0.0
	for i := range a {
		for j := range a[i] {
			d := math.Abs(a[i][j] - b[i][j])
			if math.IsNaN(d) {
				return math.Inf(1)
			}
			worst = max(worst, d)
		}
	}
	return worst
}
