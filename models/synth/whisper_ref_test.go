package synth

import (
	"fmt"
	"math"
	"testing"
)

// whisperRef is a plain-Go Whisper written from transformers'
// modeling_whisper.py, independent of the ONNX graph code: it reads the
// weights out of a generated file and evaluates in float64. Only the
// architecture is shared knowledge (GELU, no k_proj bias, unscaled
// embeddings, q scaled by head_dim^-0.5, tied LM head); the encoder's
// sinusoids are recomputed here from Whisper's formula.
type whisperRef struct {
	d WhisperDims
	*m2m100Ref
}

func loadWhisperRef(t *testing.T, path string, d WhisperDims) *whisperRef {
	t.Helper()
	r := loadM2M100Ref(t, path, M2M100Dims{DModel: d.DModel, Heads: d.Heads})
	return &whisperRef{d: d, m2m100Ref: r}
}

// noBias is x·W for a Linear built with bias=False.
func (r *whisperRef) noBias(x m2mMat, prefix string) m2mMat {
	w := r.weight(prefix + ".weight")
	out := len(w) / len(x[0])
	y := newM2MMat(len(x), out)
	for i, row := range x {
		for k, v := range row {
			for o := range out {
				y[i][o] += v * float64(w[k*out+o])
			}
		}
	}
	return y
}

func whisperGELU(x m2mMat) m2mMat {
	for _, row := range x {
		for j, v := range row {
			row[j] = 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
		}
	}
	return x
}

// conv1d is nn.Conv1d(kernel 3, padding 1) over x [T][in] → [T/stride][out].
func (r *whisperRef) conv1d(x m2mMat, prefix string, stride int) m2mMat {
	w, b := r.weight(prefix+".weight"), r.weight(prefix+".bias")
	in, out := len(x[0]), len(b)
	y := newM2MMat((len(x)+stride-1)/stride, out)
	for t := range y {
		for o := range out {
			s := float64(b[o])
			for k := range 3 {
				src := t*stride + k - 1
				if src < 0 || src >= len(x) {
					continue
				}
				for c := range in {
					s += float64(w[(o*in+c)*3+k]) * x[src][c]
				}
			}
			y[t][o] = s
		}
	}
	return y
}

// sinusoids is Whisper's sinusoids(length, channels).
func whisperSinusoids(length, channels int) m2mMat {
	m := newM2MMat(length, channels)
	half := channels / 2
	inc := math.Log(10000) / float64(half-1)
	for p := range length {
		for j := range half {
			a := float64(p) * math.Exp(-inc*float64(j))
			m[p][j], m[p][half+j] = math.Sin(a), math.Cos(a)
		}
	}
	return m
}

// attention is WhisperAttention over projected keys and values ([S][d],
// heads side by side) without a mask unless causal; it also returns the
// softmaxed weights [head][query][key].
func (r *whisperRef) attention(x, k, v m2mMat, prefix string, causalPast int) (m2mMat, [][][]float64) {
	hd := r.d.HeadDim()
	q := r.linear(x, prefix+".q_proj")
	scale := math.Pow(float64(hd), -0.5)
	ctx := newM2MMat(len(q), r.d.DModel)
	probs := make([][][]float64, r.d.Heads)
	for h := range r.d.Heads {
		lo := h * hd
		probs[h] = make([][]float64, len(q))
		for i := range q {
			visible := len(k)
			if causalPast >= 0 {
				visible = causalPast + i + 1
			}
			p := make([]float64, len(k))
			best := math.Inf(-1)
			for j := range visible {
				for c := lo; c < lo+hd; c++ {
					p[j] += q[i][c] * k[j][c]
				}
				p[j] *= scale
				best = max(best, p[j])
			}
			var sum float64
			for j := range visible {
				p[j] = math.Exp(p[j] - best)
				sum += p[j]
			}
			for j := range visible {
				p[j] /= sum
				for c := lo; c < lo+hd; c++ {
					ctx[i][c] += p[j] * v[j][c]
				}
			}
			probs[h][i] = p
		}
	}
	return r.linear(ctx, prefix+".out_proj"), probs
}

func (r *whisperRef) ffn(h m2mMat, prefix string) m2mMat {
	x := whisperGELU(r.linear(r.layerNorm(h, prefix+".final_layer_norm"), prefix+".fc1"))
	return m2mAdd(h, r.linear(x, prefix+".fc2"))
}

// encode runs the encoder on one item's features [mels][3000].
func (r *whisperRef) encode(features m2mMat) m2mMat {
	x := newM2MMat(len(features[0]), len(features))
	for m, row := range features {
		for t, v := range row {
			x[t][m] = v
		}
	}
	h := whisperGELU(r.conv1d(x, "model.encoder.conv1", 1))
	h = whisperGELU(r.conv1d(h, "model.encoder.conv2", 2))
	h = m2mAdd(h, whisperSinusoids(len(h), r.d.DModel))
	for i := range r.d.EncoderLayers {
		p := fmt.Sprintf("model.encoder.layers.%d", i)
		x := r.layerNorm(h, p+".self_attn_layer_norm")
		k, v := r.noBias(x, p+".self_attn.k_proj"), r.linear(x, p+".self_attn.v_proj")
		a, _ := r.attention(x, k, v, p+".self_attn", -1)
		h = r.ffn(m2mAdd(h, a), p)
	}
	return r.layerNorm(h, "model.encoder.layer_norm")
}

// whisperRefStep is what the reference decoder gives for a token prefix:
// logits [T][vocab], each layer's cross-attention weights
// [head][T][1500] and self/cross keys and values [·][d].
type whisperRefStep struct {
	logits m2mMat
	cross  [][][][]float64
	caches []m2m100RefCache
}

// decode runs the decoder over a whole token prefix without a cache, as
// HF does with use_cache=False.
func (r *whisperRef) decode(ids []int64, enc m2mMat) whisperRefStep {
	d := r.d.DModel
	tokens, positions := r.weight("model.decoder.embed_tokens.weight"), r.weight("model.decoder.embed_positions.weight")
	h := newM2MMat(len(ids), d)
	for i, id := range ids {
		for j := range d {
			h[i][j] = float64(tokens[int(id)*d+j]) + float64(positions[i*d+j])
		}
	}
	var out whisperRefStep
	for i := range r.d.DecoderLayers {
		p := fmt.Sprintf("model.decoder.layers.%d", i)
		var c m2m100RefCache
		x := r.layerNorm(h, p+".self_attn_layer_norm")
		c.selfK, c.selfV = r.noBias(x, p+".self_attn.k_proj"), r.linear(x, p+".self_attn.v_proj")
		a, _ := r.attention(x, c.selfK, c.selfV, p+".self_attn", 0)
		h = m2mAdd(h, a)
		x = r.layerNorm(h, p+".encoder_attn_layer_norm")
		c.crossK, c.crossV = r.noBias(enc, p+".encoder_attn.k_proj"), r.linear(enc, p+".encoder_attn.v_proj")
		a, probs := r.attention(x, c.crossK, c.crossV, p+".encoder_attn", -1)
		h = r.ffn(m2mAdd(h, a), p)
		out.caches = append(out.caches, c)
		out.cross = append(out.cross, probs)
	}
	h = r.layerNorm(h, "model.decoder.layer_norm")
	out.logits = newM2MMat(len(h), r.d.Vocab)
	for i, row := range h {
		for tok := range r.d.Vocab {
			var s float64
			for j, v := range row {
				s += v * float64(tokens[tok*d+j])
			}
			out.logits[i][tok] = s
		}
	}
	return out
}
