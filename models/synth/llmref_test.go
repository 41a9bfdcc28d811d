package synth

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ollama/ollama/tokenizer"
)

// A reference forward pass of the three architectures in plain Go, over
// the weights as written to the GGUF (F16 rounding included): enough to
// check the shaped circuit's behaviour without a server.

type refModel struct {
	f     LLMFamily
	d     LLMDims
	v     *llmVocab
	shape *llmShape
	t     map[string][]float32
	eps   float64
	tok   tokenizer.Tokenizer
}

func newRefModel(t *testing.T, f LLMFamily, d LLMDims, seed uint64) *refModel {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := f.WriteGGUF(context.Background(), path, d, seed); err != nil {
		t.Fatal(err)
	}
	g, file := decodeGGUF(t, path)
	m := &refModel{f: f, d: d, t: map[string][]float32{}, eps: 1e-6}
	if f.arch == archLlama {
		m.eps = 1e-5
	}
	for _, tn := range g.Tensors().Items() {
		m.t[tn.Name] = readTensor(t, file, g.Tensors().Offset, tn)
	}
	v, err := f.vocab(d.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	m.v = v
	if m.shape, err = newLLMShape(f.spec(v), d, llmSeed(seed)); err != nil {
		t.Fatal(err)
	}
	m.tok = familyTokenizer(f, v)
	return m
}

// encode tokenizes s, with the BOS token the family adds to prompts.
func (m *refModel) encode(t *testing.T, s string) []int {
	t.Helper()
	ids, err := m.tok.Encode(s, m.f.Name != "qwen3")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out
}

func rmsNorm(x []float64, w []float32, eps float64) []float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	r := 1 / math.Sqrt(ss/float64(len(x))+eps)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v * r * float64(w[i])
	}
	return out
}

// matVec computes W·x for a GGUF weight of shape {in, out} (rows of in).
func matVec(w []float32, x []float64) []float64 {
	in := len(x)
	out := make([]float64, len(w)/in)
	for r := range out {
		row := w[r*in : (r+1)*in]
		var s float64
		for i, v := range row {
			s += float64(v) * x[i]
		}
		out[r] = s
	}
	return out
}

func (m *refModel) rope(x []float64, pos int, base float64) {
	hd := m.d.HeadDim
	for f := range hd / 2 {
		var a, b int
		if m.f.arch.neox() {
			a, b = f, f+hd/2
		} else {
			a, b = 2*f, 2*f+1
		}
		th := float64(pos) * math.Pow(base, -2*float64(f)/float64(hd))
		c, s := math.Cos(th), math.Sin(th)
		x[a], x[b] = x[a]*c-x[b]*s, x[a]*s+x[b]*c
	}
}

// refTrace holds what a forward pass saw, for checks.
type refTrace struct {
	logits [][]float64   // by position, from the first one asked for
	attn   [][][]float64 // layer → q head → weights over positions, at the last position
	resid  [][]float64   // residual stream after every position's last layer
	q, k   [][][]float64 // layer → position → q (k) after norms and RoPE
}

// forward runs the tokens and returns the logits of positions from on,
// with what the heads did at the last position.
func (m *refModel) forward(tokens []int, from int) refTrace {
	d := m.d
	hd := d.HeadDim
	n := len(tokens)
	x := make([][]float64, n)
	emb := m.t["token_embd.weight"]
	for i, tok := range tokens {
		x[i] = make([]float64, d.Dim)
		for j := range d.Dim {
			x[i][j] = float64(emb[tok*d.Dim+j])
			if m.f.arch == archGemma3 {
				x[i][j] *= math.Sqrt(float64(d.Dim))
			}
		}
	}
	var tr refTrace
	for l := range d.Layers {
		p := func(s string) []float32 { return m.t[fmtLayer(l, s)] }
		ks := make([][]float64, n)
		vs := make([][]float64, n)
		qs := make([][]float64, n)
		for i := range n {
			h := rmsNorm(x[i], p("attn_norm"), m.eps)
			qs[i], ks[i], vs[i] = matVec(p("attn_q"), h), matVec(p("attn_k"), h), matVec(p("attn_v"), h)
			for hh := range d.Heads {
				q := qs[i][hh*hd : (hh+1)*hd]
				if m.f.arch.qkNorm() {
					copy(q, rmsNorm(q, p("attn_q_norm"), m.eps))
				}
				m.rope(q, i, shapeRopeBase)
			}
			for g := range d.KVHeads {
				k := ks[i][g*hd : (g+1)*hd]
				if m.f.arch.qkNorm() {
					copy(k, rmsNorm(k, p("attn_k_norm"), m.eps))
				}
				m.rope(k, i, shapeRopeBase)
			}
		}
		tr.q, tr.k = append(tr.q, qs), append(tr.k, ks)
		attnOut := make([][]float64, n)
		var lastAttn [][]float64
		for i := range n {
			o := make([]float64, d.Heads*hd)
			for hh := range d.Heads {
				g := hh / (d.Heads / d.KVHeads)
				q := qs[i][hh*hd : (hh+1)*hd]
				sc := make([]float64, i+1)
				mx := math.Inf(-1)
				for j := 0; j <= i; j++ {
					k := ks[j][g*hd : (g+1)*hd]
					var s float64
					for c := range hd {
						s += q[c] * k[c]
					}
					sc[j] = s / math.Sqrt(float64(hd))
					mx = max(mx, sc[j])
				}
				var z float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					z += sc[j]
				}
				for j := range sc {
					sc[j] /= z
					v := vs[j][g*hd : (g+1)*hd]
					for c := range hd {
						o[hh*hd+c] += sc[j] * v[c]
					}
				}
				if i == n-1 {
					lastAttn = append(lastAttn, sc)
				}
			}
			attnOut[i] = matVec(p("attn_output"), o)
			if m.f.arch.postNorms() {
				attnOut[i] = rmsNorm(attnOut[i], p("post_attention_norm"), m.eps)
			}
		}
		tr.attn = append(tr.attn, lastAttn)
		for i := range n {
			for j := range d.Dim {
				x[i][j] += attnOut[i][j]
			}
			h := rmsNorm(x[i], p("ffn_norm"), m.eps)
			gt, up := matVec(p("ffn_gate"), h), matVec(p("ffn_up"), h)
			for j := range gt {
				if m.f.arch == archGemma3 {
					g := gt[j]
					gt[j] = 0.5 * g * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(g+0.044715*g*g*g))) * up[j]
				} else {
					gt[j] = gt[j] / (1 + math.Exp(-gt[j])) * up[j]
				}
			}
			down := matVec(p("ffn_down"), gt)
			if m.f.arch.postNorms() {
				down = rmsNorm(down, p("post_ffw_norm"), m.eps)
			}
			for j := range d.Dim {
				x[i][j] += down[j]
			}
		}
	}
	tr.resid = x
	for i := from; i < n; i++ {
		tr.logits = append(tr.logits, matVec(m.t["output.weight"], rmsNorm(x[i], m.t["output_norm.weight"], m.eps)))
	}
	return tr
}

func fmtLayer(l int, s string) string { return fmt.Sprintf("blk.%d.%s.weight", l, s) }

// logProbs turns logits into log-probabilities.
func logProbs(logits []float64) []float64 {
	mx := math.Inf(-1)
	for _, l := range logits {
		mx = max(mx, l)
	}
	var z float64
	for _, l := range logits {
		z += math.Exp(l - mx)
	}
	out := make([]float64, len(logits))
	for i, l := range logits {
		out[i] = l - mx - math.Log(z)
	}
	return out
}

// topTokens lists the k most likely tokens with their log-probabilities.
func (m *refModel) topTokens(logits []float64, k int) string {
	mx := math.Inf(-1)
	for _, l := range logits {
		mx = max(mx, l)
	}
	var z float64
	for _, l := range logits {
		z += math.Exp(l - mx)
	}
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < k; i++ {
		best := i
		for j := i + 1; j < len(idx); j++ {
			if logits[idx[j]] > logits[idx[best]] {
				best = j
			}
		}
		idx[i], idx[best] = idx[best], idx[i]
	}
	var b strings.Builder
	for _, id := range idx[:k] {
		fmt.Fprintf(&b, "%q:%.1f ", m.v.text[id], logits[id]-mx-math.Log(z))
	}
	return b.String()
}
