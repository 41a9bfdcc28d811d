package synth

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/ollama/ollama/fs/ggml"
)

// Shaped weights for the synthetic chat families (llmfamily.go).
//
// Random weights never close a JSON string, a thinking block or a tool call
// on their own, so the first two layers of every model are a small circuit
// written by hand, and the rest stays random. The residual stream is split
// into blocks:
//
//	dim 0   a constant C in every token embedding. It dominates the RMS of
//	        the stream, so every RMS norm is close to a fixed scale and the
//	        circuit below stays linear; the output matrix reads it as a
//	        per-token logit bias (the synthetic Llama's trick).
//	E       the current token's identity: a one-hot dimension for each token
//	        a rule keys on (and each special token), a random unit vector
//	        for every other token.
//	P1, P2  the identity of the previous token and of the one before it,
//	        written by two layer-0 heads that attend one and two positions
//	        back (their queries and keys are constant; RoPE's fast
//	        frequencies make the score peak at that distance).
//	T, K    flags: "the prompt offers tools" and "inside <think>", written
//	        by layer-0 heads that attend to marker tokens wherever they are
//	        (RoPE's slowest frequencies, which barely rotate, carry them).
//	N       a copied token: a layer-1 induction head finds the earlier
//	        position whose two preceding tokens equal the current and the
//	        previous token (match classes make some tokens equal) and copies
//	        the token there; a sink (the template's turn-start token) takes
//	        the attention when only one of the two matches. That is how a
//	        tool call names a function: after `{"name":"` the head finds the
//	        name in the tool list and copies it token by token. Layer 1's
//	        FFN multiplies N right after `":"` (silu(gate)·up is a product),
//	        so the copy is strong inside a name and weak elsewhere, where it
//	        would loop over the model's own output.
//	R       random features; the remaining layers read and write only R.
//
// The output matrix turns these into logits: a bias per token (dim 0),
// rules "after token X, token Y" (E), "two/three tokens after X" (P1, P2),
// "while the flag is set" (T, K), the copy and "when the copy proposes X"
// (N), and random logits (E, P1, R) that make text vary with the context;
// tokens with a rule or a level get no random logits, so their share is
// the same in every context. Rules are written relative to L, the log of
// the summed probability mass of ordinary tokens, so a rule that sets a
// token to L+δ gives it about the same probability in a tiny and a
// full-size vocabulary; made-up filler words carry a negative bias so the
// ordinary mass is about the same in both.

// llmArch selects the layer layout of a GGUF architecture.
type llmArch int

const (
	archLlama  llmArch = iota // llama.cpp's llama: no q/k norms, adjacent-pair RoPE
	archQwen3                 // Ollama's qwen3: q/k RMS norms, NeoX RoPE
	archGemma3                // Ollama's gemma3: q/k norms, post-norms, scaled embeddings, GELU
)

func (a llmArch) qkNorm() bool    { return a != archLlama }
func (a llmArch) neox() bool      { return a != archLlama }
func (a llmArch) postNorms() bool { return a == archGemma3 }

// LLMDims are the architecture dimensions of a synthetic chat model.
type LLMDims struct {
	Vocab         int  `json:"vocab_size"`
	Dim           int  `json:"hidden_size"`
	Layers        int  `json:"num_hidden_layers"`
	Heads         int  `json:"num_attention_heads"`
	KVHeads       int  `json:"num_key_value_heads"`
	HeadDim       int  `json:"head_dim"`
	FFN           int  `json:"intermediate_size"`
	Context       int  `json:"max_position_embeddings"`
	SlidingWindow int  `json:"sliding_window,omitempty"`
	F16           bool `json:"-"`
}

// parameterCount counts the weights, norms included.
func (d LLMDims) parameterCount(qkNorm, postNorm bool) int {
	q, kv := d.Heads*d.HeadDim, d.KVHeads*d.HeadDim
	per := 2*d.Dim + d.Dim*q + 2*d.Dim*kv + q*d.Dim + 3*d.Dim*d.FFN
	if qkNorm {
		per += 2 * d.HeadDim
	}
	if postNorm {
		per += 2 * d.Dim
	}
	return 2*d.Vocab*d.Dim + d.Dim + d.Layers*per
}

// ruleOn says what a shaping rule's condition reads.
type ruleOn int

const (
	onCur   ruleOn = iota // the current token is src
	onPrev                // the previous token is src
	onPrev2               // the token before the previous one is src
	onTools               // per unit of the tools flag
	onThink               // per unit of the thinking flag
	onCopy                // the induction head proposes copying src
)

// shapeRule adds add to target's logit when its condition holds.
type shapeRule struct {
	on     ruleOn
	src    string
	target string
	add    float64
}

// shapeSpec is what a family asks of the circuit.
type shapeSpec struct {
	arch  llmArch
	vocab *llmVocab
	// bias is each token's logit bias before levels, the biases (token
	// text → logit) set relative to L, and rules(L, u) the conditional ones
	// (u gives a token's final bias).
	bias   func(v *llmVocab, id int) float64
	levels func(L float64) map[string]float64
	rules  func(L float64, u func(text string) float64) []shapeRule
	// copyLogit(L) is the logit the induction head's copy gives a token,
	// and the logit it gives inside a function name (copyContext).
	copyLogit func(L float64) (base, gated float64)
	// Markers of the flags (token texts): tools, thinking opened/closed;
	// sinks take the induction head's attention when nothing matches.
	toolsMarkers        []string
	thinkOpen, thinkEnd string
	sinks               []string
	// copyContext are the tokens after which (up to two tokens later) the
	// induction head's copy is strengthened.
	copyContext []string
	// matchClasses are tokens the induction head treats as one when it
	// compares two-token contexts: a class's members are interchangeable.
	matchClasses    [][]string
	tools, thinking bool
}

// Design constants (see the comment at the top).
const (
	shapeRopeBase   = 1e9  // slow enough frequencies for position-free keys
	shapePrevScore  = 60.0 // peak score of the previous-token heads
	shapePrevMargin = 12.0 // ... and their least lead over any other distance, as designed
	shapeFlagScore  = 16.0 // score of a marker for the flag heads
	shapeMatchScore = 26.0 // induction score of a two-token match
	shapeSinkScore  = 18.0 // ... of a sink (a one-token match scores 13)
	shapeSigmaE     = 1.0  // random logit spread read from the current token
	shapeSigmaP     = 0.7  // ... from the previous token
	shapeSigmaR     = 1.0  // ... from the random features
	shapeNoise      = 0.3  // per-dimension R noise all random sublayers add together, relative to the embedding's
	shapeGateBeta   = 20.0 // sharpness of the copy gate
)

// llmShape is a family's circuit laid out on concrete dimensions.
type llmShape struct {
	spec shapeSpec
	d    LLMDims
	seed uint64

	kE, nKey                                    int
	offE, offP1, offP2, offN, dimT, dimK        int
	offR, nR                                    int
	c, aR                                       float64 // dim-0 constant, R amplitude of embeddings
	sn0, sn1, snF                               float64 // RMS-norm gain at layer 0, layer 1, the output
	keyed                                       map[int]int
	markT, markOpen, markEnd                    int
	sinkIDs                                     []int
	bias                                        []float64
	L                                           float64
	cur, prev, prev2, copied                    map[int]map[int]float64 // src → target → logit
	flagT, flagK                                map[int]float64
	quiet                                       map[int]bool // tokens without random logits
	copyCtx                                     []int
	copyGain, copyBoost                         float64
	layer0, layer1                              []headRole // by q head
	chunksE                                     [][2]int   // E-block ranges carried by kv heads (layer 0 and 1)
	signKV                                      int        // kv head carrying the flag signs (-1: none)
	hiPairs                                     []int
	hiW                                         []float64
	lo                                          []int // position-free head dims, slowest first
	induct                                      []int // lo dims of the induction match
	sinkDim, constDim, markTDim, markKDim       int
	prevQ, prevK                                float64 // per-unit-weight amplitudes of the previous-token heads
	flagQ, flagK2, matchQ, matchK, sinkQ, sinkK float64
	pm                                          [][]float64 // induction projection, len(induct) × kE
	perm                                        []int       // signed permutation mixing the previous token in
	permSign                                    []float64
}

// headRole is what a q head of a designed layer does.
type headRole struct {
	kind  int // roleNone, rolePrev1, rolePrev2, roleTools, roleThink, roleInduct
	chunk int // index into chunksE (prev/induct heads)
}

const (
	roleNone = iota
	rolePrev1
	rolePrev2
	roleTools
	roleThink
	roleInduct
)

// kvOf is the kv head a q head reads (ggml's grouping: consecutive q heads share one).
func (s *llmShape) kvOf(h int) int { return h / (s.d.Heads / s.d.KVHeads) }

func newLLMShape(spec shapeSpec, d LLMDims, seed uint64) (*llmShape, error) {
	if d.Heads%d.KVHeads != 0 || d.HeadDim%2 != 0 {
		return nil, fmt.Errorf("llm dims: %d heads must be a multiple of %d kv heads, head dim %d even", d.Heads, d.KVHeads, d.HeadDim)
	}
	if len(spec.vocab.tokens) != d.Vocab {
		return nil, fmt.Errorf("llm vocab: %d tokens, dims say %d", len(spec.vocab.tokens), d.Vocab)
	}
	s := &llmShape{spec: spec, d: d, seed: seed, keyed: map[int]int{}, signKV: -1}
	v := spec.vocab

	// Rules, markers and sinks decide which tokens get one-hot identities.
	probe := spec.rules(0, func(string) float64 { return 0 })
	var keyedTexts []string
	for _, r := range probe {
		if (r.on == onCur || r.on == onPrev || r.on == onPrev2 || r.on == onCopy) && v.id(r.src) >= 0 && v.id(r.target) >= 0 {
			keyedTexts = append(keyedTexts, r.src)
		}
	}
	keyedTexts = append(keyedTexts, spec.toolsMarkers...)
	for _, class := range spec.matchClasses {
		keyedTexts = append(keyedTexts, class...)
	}
	keyedTexts = append(keyedTexts, spec.sinks...)
	keyedTexts = append(keyedTexts, spec.copyContext...)
	if spec.thinking {
		keyedTexts = append(keyedTexts, spec.thinkOpen, spec.thinkEnd)
	}
	for _, t := range keyedTexts {
		id, err := v.mustID(t)
		if err != nil {
			return nil, err
		}
		if _, ok := s.keyed[id]; !ok {
			s.keyed[id] = len(s.keyed)
		}
	}
	// Special tokens are keyed too: the induction head must not match on
	// the chat template's structure (see layoutHeads).
	for id, k := range v.kinds {
		if _, ok := s.keyed[id]; !ok && k == tokKindSpecial {
			s.keyed[id] = len(s.keyed)
		}
	}
	s.nKey = len(s.keyed)

	// Residual layout.
	s.kE = 80
	if d.Dim >= 1024 {
		s.kE = 128
	}
	if s.kE-s.nKey < 40 {
		return nil, fmt.Errorf("llm shape: %d keyed tokens leave too few random identity dimensions in %d", s.nKey, s.kE)
	}
	s.offE = 1
	s.offP1 = s.offE + s.kE
	s.offP2 = s.offP1 + s.kE
	s.offN = s.offP2 + s.kE
	s.dimT = s.offN + s.kE
	s.dimK = s.dimT + 1
	s.offR = s.dimK + 1
	s.nR = d.Dim - s.offR
	if s.nR < 32 {
		return nil, fmt.Errorf("llm shape: hidden size %d leaves %d random dimensions", d.Dim, s.nR)
	}
	s.aR = 2 / math.Sqrt(float64(s.nR)) // |R| = 2
	rest0 := 1 + 4.0                    // |E|² + |R|²
	rest1 := rest0 + 2 + 2              // + P1, P2, flags
	restF := rest1 + 1 + 1              // + N, noise
	s.c = math.Sqrt(15 * restF)
	gain := func(rest float64) float64 { return math.Sqrt(float64(d.Dim) / (s.c*s.c + rest)) }
	s.sn0, s.sn1, s.snF = gain(rest0), gain(rest1), gain(restF)

	var err error
	if s.markT, s.markOpen, s.markEnd = -1, -1, -1; spec.tools {
		if s.markT, err = v.mustID(spec.toolsMarkers[0]); err != nil {
			return nil, err
		}
		for _, t := range spec.sinks {
			s.sinkIDs = append(s.sinkIDs, v.id(t))
		}
	}
	if spec.thinking {
		s.markOpen, s.markEnd = v.id(spec.thinkOpen), v.id(spec.thinkEnd)
	}
	for _, t := range spec.copyContext {
		s.copyCtx = append(s.copyCtx, v.id(t))
	}
	if spec.tools && d.FFN < s.kE {
		return nil, fmt.Errorf("llm shape: %d FFN neurons cannot hold the %d copy gates", d.FFN, s.kE)
	}

	if err := s.layoutHeads(); err != nil {
		return nil, err
	}
	s.shapeOutput()
	return s, nil
}

// eps is token tok's identity in the E block: one-hot for keyed tokens,
// else a random unit vector over the other dimensions.
func (s *llmShape) epsOf(tok int) []float64 {
	e := make([]float64, s.kE)
	if k, ok := s.keyed[tok]; ok {
		e[k] = 1
		return e
	}
	rng := rand.New(rand.NewPCG(s.seed^0x9e3779b97f4a7c15, uint64(tok)))
	var n float64
	for i := s.nKey; i < s.kE; i++ {
		e[i] = rng.NormFloat64()
		n += e[i] * e[i]
	}
	n = math.Sqrt(n)
	for i := s.nKey; i < s.kE; i++ {
		e[i] /= n
	}
	return e
}

// ropePair returns the two head dimensions RoPE rotates together at
// frequency index f (θ_f = base^(-2f/headDim)).
func (s *llmShape) ropePair(f int) (int, int) {
	if s.spec.arch.neox() {
		return f, f + s.d.HeadDim/2
	}
	return 2 * f, 2*f + 1
}

func (s *llmShape) theta(f int) float64 {
	return math.Pow(shapeRopeBase, -2*float64(f)/float64(s.d.HeadDim))
}

// layoutHeads assigns the designed heads to q and kv heads and the head
// dimensions to the previous-token, marker and induction keys.
func (s *llmShape) layoutHeads() error {
	d := s.d
	hd := d.HeadDim
	r := d.Heads / d.KVHeads
	// Fast pairs for the previous-token heads: the 8 fastest (fewer for
	// small heads), weighted to lead at distance 1 (2) by the widest margin.
	nHi := min(8, hd/8)
	for f := range nHi {
		s.hiPairs = append(s.hiPairs, f)
	}
	var margin float64
	s.hiW, margin = prevHeadWeights(s, nHi)
	// Slow pairs: frequencies that turn less than 0.3 rad over the context.
	ctx := 4096.0 // the Modelfiles' num_ctx
	for f := hd/2 - 1; f >= nHi; f-- {
		if s.theta(f)*ctx > 0.3 {
			break
		}
		a, b := s.ropePair(f)
		s.lo = append(s.lo, a, b)
	}
	if len(s.lo) < 8 {
		return fmt.Errorf("llm shape: head dim %d has %d position-free dimensions", hd, len(s.lo))
	}
	s.markTDim, s.markKDim = s.lo[0], s.lo[1]
	s.sinkDim, s.constDim = s.lo[2], s.lo[3]
	s.induct = s.lo[4:]
	if len(s.induct) > s.kE {
		s.induct = s.induct[:s.kE]
	}

	// E is carried in chunks of at most hd dims, one kv head each.
	for lo := 0; lo < s.kE; lo += hd {
		s.chunksE = append(s.chunksE, [2]int{lo, min(lo+hd, s.kE)})
	}
	s.layer0 = make([]headRole, d.Heads)
	s.layer1 = make([]headRole, d.Heads)
	need0 := len(s.chunksE)
	if s.spec.tools || s.spec.thinking {
		s.signKV = len(s.chunksE)
		need0++
	}
	if need0 > d.KVHeads || r < 2 {
		return fmt.Errorf("llm shape: %d kv heads of %d q heads each cannot carry the circuit (needs %d kv heads, 2 q heads per kv head)", d.KVHeads, r, need0)
	}
	for c := range s.chunksE {
		s.layer0[c*r] = headRole{rolePrev1, c}
		s.layer0[c*r+1] = headRole{rolePrev2, c}
		if s.spec.tools {
			s.layer1[c*r] = headRole{roleInduct, c}
		}
	}
	if s.signKV >= 0 {
		if s.spec.tools {
			s.layer0[s.signKV*r] = headRole{kind: roleTools}
		}
		if s.spec.thinking {
			s.layer0[s.signKV*r+1] = headRole{kind: roleThink}
		}
	}

	// Amplitudes. Previous-token heads: q·k/√hd peaks at shapePrevScore.
	var sumW float64
	for _, w := range s.hiW {
		sumW += w
	}
	// The peak is raised when the weights' lead falls short of shapePrevMargin.
	amp := math.Sqrt(max(shapePrevScore, shapePrevMargin/margin) * math.Sqrt(float64(hd)) / sumW)
	s.prevQ, s.prevK = amp, amp
	// Markers: a small key (so q/k norms barely notice it) met by a large query.
	kNorm := amp * math.Sqrt(sumW)
	s.flagK2 = 0.2 * kNorm
	s.flagQ = shapeFlagScore * math.Sqrt(float64(hd)) / s.flagK2
	// Induction: q = ρ(a + Mb), k = ρ(a' + Mb'), an exact match scores 2ρ²/√hd.
	rho := math.Sqrt(shapeMatchScore * math.Sqrt(float64(hd)) / 2)
	s.matchQ, s.matchK = rho, rho
	// Every key also holds 2ρ in constDim (no query reads it), so a key's
	// length hardly varies and q/k norms do not inflate a sink's key or a
	// key with one of its two tokens unknown; a sink's key has the typical
	// length too.
	s.sinkK = math.Sqrt(2) * rho
	s.sinkQ = shapeSinkScore * math.Sqrt(float64(hd)) / s.sinkK

	// The induction projection (kE → len(induct)) and the signed permutation.
	rng := rand.New(rand.NewPCG(s.seed, 0x1d0c7))
	m := len(s.induct)
	s.pm = make([][]float64, m)
	for i := range s.pm {
		s.pm[i] = make([]float64, s.kE)
		for j := range s.kE {
			s.pm[i][j] = rng.NormFloat64() / math.Sqrt(float64(m))
		}
	}
	// A keyed token's column is a unit code; members of a match class share
	// one. Special and whitespace tokens have none, so two-token contexts
	// of the template's structure (such as "<|end_header_id|>" "\n\n") match
	// nothing and the reply does not start by copying the user's words.
	for id, k := range s.keyed {
		text := s.spec.vocab.text[id]
		if s.spec.vocab.kinds[id] == tokKindSpecial || strings.TrimSpace(text) == "" {
			for i := range m {
				s.pm[i][k] = 0
			}
			continue
		}
		var n float64
		for i := range m {
			n += s.pm[i][k] * s.pm[i][k]
		}
		for i := range m {
			s.pm[i][k] /= math.Sqrt(n)
		}
	}
	for _, class := range s.spec.matchClasses {
		code := make([]float64, m)
		var n float64
		for i := range code {
			code[i] = rng.NormFloat64()
			n += code[i] * code[i]
		}
		for _, t := range class {
			k, ok := s.keyed[s.spec.vocab.id(t)]
			if !ok {
				continue
			}
			for i := range code {
				s.pm[i][k] = code[i] / math.Sqrt(n)
			}
		}
	}
	s.perm = rng.Perm(m)
	s.permSign = make([]float64, m)
	for i := range s.permSign {
		s.permSign[i] = float64(1 - 2*rng.IntN(2))
	}
	return nil
}

// prevHeadWeights picks per-frequency weights for the previous-token
// heads, a seeded random search for the widest lead of distance 1 over
// every other distance up to 4,096 positions, and returns them with that
// lead as a fraction of the peak score.
func prevHeadWeights(s *llmShape, n int) ([]float64, float64) {
	th := make([]float64, n)
	for f := range n {
		th[f] = s.theta(f)
	}
	margin := func(w []float64) float64 {
		var peak float64
		for _, x := range w {
			peak += x
		}
		worst := math.Inf(-1)
		for dist := 0; dist < 4096; dist++ {
			if dist == 1 {
				continue
			}
			var sc float64
			for f, x := range w {
				sc += x * math.Cos(float64(dist-1)*th[f])
			}
			worst = max(worst, sc)
		}
		return (peak - worst) / peak
	}
	best := make([]float64, n)
	for i := range best {
		best[i] = 1
	}
	bestM := margin(best)
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	for range 120 {
		w := make([]float64, n)
		for i := range w {
			w[i] = max(0.05, best[i]*math.Exp(0.3*rng.NormFloat64()))
		}
		if m := margin(w); m > bestM {
			best, bestM = w, m
		}
	}
	return best, bestM
}

// shapeOutput resolves biases and rules to token IDs and computes L.
func (s *llmShape) shapeOutput() {
	v := s.spec.vocab
	s.bias = make([]float64, len(v.tokens))
	sigma2 := shapeSigmaE*shapeSigmaE + shapeSigmaP*shapeSigmaP + shapeSigmaR*shapeSigmaR
	var mass float64
	for id := range v.tokens {
		s.bias[id] = s.spec.bias(v, id)
		if s.bias[id] > -20 {
			mass += math.Exp(s.bias[id])
		}
	}
	s.L = math.Log(mass) + sigma2/2
	// Tokens with a level or a rule get no random logits, so their share
	// is what the level or rule says in every context.
	s.quiet = map[int]bool{}
	for text, b := range s.spec.levels(s.L) {
		if id := v.id(text); id >= 0 {
			s.bias[id] = b
			s.quiet[id] = true
		}
	}
	u := func(text string) float64 {
		if id := v.id(text); id >= 0 {
			return s.bias[id]
		}
		return 0
	}
	s.cur, s.prev, s.prev2, s.copied = map[int]map[int]float64{}, map[int]map[int]float64{}, map[int]map[int]float64{}, map[int]map[int]float64{}
	s.flagT, s.flagK = map[int]float64{}, map[int]float64{}
	for _, r := range s.spec.rules(s.L, u) {
		t := v.id(r.target)
		if t < 0 {
			continue // optional targets (e.g. a closer the vocabulary lacks)
		}
		s.quiet[t] = true
		var m map[int]map[int]float64
		switch r.on {
		case onCur:
			m = s.cur
		case onPrev:
			m = s.prev
		case onPrev2:
			m = s.prev2
		case onCopy:
			m = s.copied
		case onTools:
			s.flagT[t] += r.add
			continue
		case onThink:
			s.flagK[t] += r.add
			continue
		}
		src := v.id(r.src)
		if src < 0 {
			continue
		}
		if m[src] == nil {
			m[src] = map[int]float64{}
		}
		m[src][t] += r.add
	}
	if s.spec.tools {
		base, gated := s.spec.copyLogit(s.L)
		s.copyGain = base
		s.copyBoost = gated/base - 1
	}
}

// Row fills of every tensor. Each gets its own random stream seeded by
// (seed, tensor name), so the bytes do not depend on writing order.

func (s *llmShape) embeddingRow(_ *rand.Rand, tok int, dst []float32) {
	clear(dst)
	scale := 1.0
	if s.spec.arch == archGemma3 {
		scale = 1 / math.Sqrt(float64(s.d.Dim)) // the model multiplies by √dim
	}
	dst[0] = float32(s.c * scale)
	for i, x := range s.epsOf(tok) {
		dst[s.offE+i] = float32(x * scale)
	}
	rng := rand.New(rand.NewPCG(s.seed^0x5eed, uint64(tok)))
	for i := range s.nR {
		dst[s.offR+i] = float32(rng.NormFloat64() * s.aR * scale)
	}
}

func (s *llmShape) outputRow(rng *rand.Rand, tok int, dst []float32) {
	clear(dst)
	snF := s.snF
	dst[0] = float32(s.bias[tok] / (s.c * snF))
	// Random logits: from the current token, the previous one, the R
	// features (drawn for every row, so the stream stays aligned).
	quiet := 1.0
	if s.quiet[tok] {
		quiet = 0
	}
	for i := range s.kE {
		dst[s.offE+i] = float32(quiet * rng.NormFloat64() * shapeSigmaE / snF)
		dst[s.offP1+i] = float32(quiet * rng.NormFloat64() * shapeSigmaP / snF)
	}
	rs := shapeSigmaR / (snF * s.aR * math.Sqrt(float64(s.nR)))
	for i := range s.nR {
		dst[s.offR+i] = float32(quiet * rng.NormFloat64() * rs)
	}
	for src, m := range s.cur {
		dst[s.offE+s.keyed[src]] += float32(m[tok] / snF)
	}
	for src, m := range s.prev {
		dst[s.offP1+s.keyed[src]] += float32(m[tok] / snF)
	}
	for src, m := range s.prev2 {
		dst[s.offP2+s.keyed[src]] += float32(m[tok] / snF)
	}
	dst[s.dimT] = float32(s.flagT[tok] / snF)
	dst[s.dimK] = float32(s.flagK[tok] / snF)
	if s.copyGain != 0 {
		for i, x := range s.epsOf(tok) {
			dst[s.offN+i] = float32(s.copyGain * x / snF)
		}
		for src, m := range s.copied {
			dst[s.offN+s.keyed[src]] += float32(m[tok] / snF)
		}
	}
}

func onesRow(_ *rand.Rand, _ int, dst []float32) {
	for i := range dst {
		dst[i] = 1
	}
}

func zeroRow(_ *rand.Rand, _ int, dst []float32) { clear(dst) }

// noise is the R noise one random sublayer (an FFN, or the attention of a
// random layer) adds: shapeNoise in all. A sublayer's output grows with the
// R it reads, so a deep model (Qwen3-0.6B has 28 layers) whose sublayers
// each added a fixed share would multiply R layer after layer.
func (s *llmShape) noise() float64 {
	n := s.d.Layers // FFNs
	for l := range s.d.Layers {
		if !s.designed(l) {
			n++
		}
	}
	return shapeNoise / math.Sqrt(float64(n))
}

// designed reports whether layer l holds the circuit.
func (s *llmShape) designed(l int) bool {
	return l == 0 || (l == 1 && s.spec.tools)
}

func (s *llmShape) roles(l int) []headRole {
	if l == 0 {
		return s.layer0
	}
	return s.layer1
}

// randReader fills a row that reads the R block with per-entry std such
// that the row's output has std out for the normalized stream.
func (s *llmShape) randReader(rng *rand.Rand, dst []float32, out, sn float64) {
	clear(dst)
	std := out / (sn * s.aR * math.Sqrt(float64(s.nR)))
	for i := range s.nR {
		dst[s.offR+i] = float32(rng.NormFloat64() * std)
	}
}

// qRow: row (h, j) of attn_q.
func (s *llmShape) qRow(l int) llamaRowFunc {
	return func(rng *rand.Rand, row int, dst []float32) {
		h, j := row/s.d.HeadDim, row%s.d.HeadDim
		if !s.designed(l) {
			s.randReader(rng, dst, 1, s.sn1)
			return
		}
		clear(dst)
		x0 := s.c * s.sn0
		if l == 1 {
			x0 = s.c * s.sn1
		}
		switch role := s.roles(l)[h]; role.kind {
		case rolePrev1, rolePrev2:
			shift := 1.0
			if role.kind == rolePrev2 {
				shift = 2
			}
			for i, f := range s.hiPairs {
				a, b := s.ropePair(f)
				amp := s.prevQ * math.Sqrt(s.hiW[i])
				phi := -shift * s.theta(f)
				switch j {
				case a:
					dst[0] = float32(amp * math.Cos(phi) / x0)
				case b:
					dst[0] = float32(amp * math.Sin(phi) / x0)
				}
			}
		case roleTools:
			if j == s.markTDim {
				dst[0] = float32(s.flagQ / x0)
			}
		case roleThink:
			if j == s.markKDim {
				dst[0] = float32(s.flagQ / x0)
			}
		case roleInduct:
			if j == s.sinkDim {
				dst[0] = float32(s.sinkQ / x0)
			}
			if i := slices.Index(s.induct, j); i >= 0 {
				// ρ·(Pm ε_cur + M·Pm P1); the blocks read ≈ ε·sn1.
				pi := s.perm[i]
				for k := range s.kE {
					dst[s.offE+k] = float32(s.matchQ * s.pm[i][k] / s.sn1)
					dst[s.offP1+k] = float32(s.matchQ * s.permSign[i] * s.pm[pi][k] / s.sn1)
				}
			}
		}
	}
}

// kRow: row (g, j) of attn_k; every kv head of a designed layer has the same key.
func (s *llmShape) kRow(l int) llamaRowFunc {
	return func(rng *rand.Rand, row int, dst []float32) {
		j := row % s.d.HeadDim
		if !s.designed(l) {
			s.randReader(rng, dst, 1, s.sn1)
			return
		}
		clear(dst)
		if l == 0 {
			x0 := s.c * s.sn0
			for i, f := range s.hiPairs {
				if a, _ := s.ropePair(f); j == a {
					dst[0] = float32(s.prevK * math.Sqrt(s.hiW[i]) / x0)
				}
			}
			if j == s.markTDim && s.markT >= 0 {
				dst[s.offE+s.keyed[s.markT]] = float32(s.flagK2 / s.sn0)
			}
			if j == s.markKDim && s.markOpen >= 0 {
				dst[s.offE+s.keyed[s.markOpen]] = float32(s.flagK2 / s.sn0)
				dst[s.offE+s.keyed[s.markEnd]] = float32(s.flagK2 / s.sn0)
			}
			return
		}
		if j == s.sinkDim {
			for _, id := range s.sinkIDs {
				dst[s.offE+s.keyed[id]] = float32(s.sinkK / s.sn1)
			}
		}
		if j == s.constDim {
			dst[0] = float32(2 * s.matchK / (s.c * s.sn1))
		}
		if i := slices.Index(s.induct, j); i >= 0 {
			pi := s.perm[i]
			for k := range s.kE {
				dst[s.offP1+k] = float32(s.matchK * s.pm[i][k] / s.sn1)
				dst[s.offP2+k] = float32(s.matchK * s.permSign[i] * s.pm[pi][k] / s.sn1)
			}
		}
	}
}

// vRow: row (g, j) of attn_v: kv head g carries an E chunk or the flag signs.
func (s *llmShape) vRow(l int) llamaRowFunc {
	return func(rng *rand.Rand, row int, dst []float32) {
		g, j := row/s.d.HeadDim, row%s.d.HeadDim
		if !s.designed(l) {
			s.randReader(rng, dst, 1, s.sn1)
			return
		}
		clear(dst)
		if g < len(s.chunksE) {
			if c := s.chunksE[g]; c[0]+j < c[1] {
				dst[s.offE+c[0]+j] = 1
			}
			return
		}
		if g == s.signKV && l == 0 {
			switch {
			case j == 0 && s.markT >= 0:
				dst[s.offE+s.keyed[s.markT]] = 1
			case j == 1 && s.markOpen >= 0:
				dst[s.offE+s.keyed[s.markOpen]] = 1
				dst[s.offE+s.keyed[s.markEnd]] = -1
			}
		}
	}
}

// oRow: row r (a residual dimension) of attn_output, over (q head, head dim).
func (s *llmShape) oRow(l int) llamaRowFunc {
	return func(rng *rand.Rand, r int, dst []float32) {
		clear(dst)
		hd := s.d.HeadDim
		if !s.designed(l) {
			if r >= s.offR {
				std := s.noise() * s.aR / math.Sqrt(float64(len(dst)))
				for i := range dst {
					dst[i] = float32(rng.NormFloat64() * std)
				}
			}
			return
		}
		sn := s.sn0
		if l == 1 {
			sn = s.sn1
		}
		for h, role := range s.roles(l) {
			switch role.kind {
			case rolePrev1, rolePrev2, roleInduct:
				off := s.offP1
				if role.kind == rolePrev2 {
					off = s.offP2
				} else if role.kind == roleInduct {
					off = s.offN
				}
				c := s.chunksE[role.chunk]
				if k := r - off; k >= c[0] && k < c[1] {
					dst[h*hd+k-c[0]] = float32(1 / sn)
				}
			case roleTools:
				if r == s.dimT {
					dst[h*hd] = float32(1 / sn)
				}
			case roleThink:
				if r == s.dimK {
					dst[h*hd+1] = float32(1 / sn)
				}
			}
		}
	}
}

// FFN: random and confined to R (zero rows elsewhere), except that layer
// 1 of the tool-calling families starts with kE gated neurons: while the
// current token or one of the two before it is a copy-context token
// (`":"`, which opens a call's function name), neuron i adds copyBoost
// times N's dimension i back to N: silu(gate)·up is a product, so the
// copy is strong inside a name and mild elsewhere (where a strong copy
// would loop over the model's own output).
func (s *llmShape) copyGate(l int) bool { return l == 1 && s.spec.tools && len(s.copyCtx) > 0 }

func (s *llmShape) ffnGateRow(l int) llamaRowFunc {
	return func(rng *rand.Rand, n int, dst []float32) {
		s.randReader(rng, dst, 1, s.sn1)
		if !s.copyGate(l) || n >= s.kE {
			return
		}
		clear(dst)
		// gate = β·(#context tokens among cur, P1, P2 − ½).
		dst[0] = float32(-shapeGateBeta / 2 / (s.c * s.sn1))
		for _, id := range s.copyCtx {
			k := s.keyed[id]
			for _, off := range []int{s.offE, s.offP1, s.offP2} {
				dst[off+k] = float32(shapeGateBeta / s.sn1)
			}
		}
	}
}

func (s *llmShape) ffnUpRow(l int) llamaRowFunc {
	return func(rng *rand.Rand, n int, dst []float32) {
		s.randReader(rng, dst, 1, s.sn1)
		if !s.copyGate(l) || n >= s.kE {
			return
		}
		clear(dst)
		dst[s.offN+n] = float32(1 / s.sn1)
	}
}

func (s *llmShape) ffnDownRow(l int) llamaRowFunc {
	return func(rng *rand.Rand, r int, dst []float32) {
		clear(dst)
		gated := 0
		if s.copyGate(l) {
			gated = s.kE
			if k := r - s.offN; k >= 0 && k < s.kE {
				on := shapeGateBeta / 2 / (1 + math.Exp(-shapeGateBeta/2)) // silu(β/2)
				dst[k] = float32(s.copyBoost / on)
			}
		}
		if r < s.offR {
			return
		}
		// silu(g)·u of unit-variance inputs has a spread of about 0.6.
		std := s.noise() * s.aR / (0.6 * math.Sqrt(float64(len(dst)-gated)))
		for i := gated; i < len(dst); i++ {
			dst[i] = float32(rng.NormFloat64() * std)
		}
	}
}

// qkNormRow: a designed layer's q (k) norm weights undo the norm's
// rescaling of the designed vectors, whose lengths are nearly constant.
func (s *llmShape) qkNormRow(l int, key bool) llamaRowFunc {
	return func(_ *rand.Rand, _ int, dst []float32) {
		for i := range dst {
			dst[i] = 1
		}
		if !s.designed(l) {
			return
		}
		hd := float64(s.d.HeadDim)
		var sumW float64
		for _, w := range s.hiW {
			sumW += w
		}
		prevLen := s.prevQ * math.Sqrt(sumW) // same for q and k
		var fast, slow float64
		switch {
		case l == 0 && !key:
			fast, slow = prevLen, s.flagQ
		case l == 0:
			fast, slow = prevLen, prevLen
		case !key:
			qLen := math.Sqrt(2*s.matchQ*s.matchQ + s.sinkQ*s.sinkQ)
			fast, slow = qLen, qLen
		default:
			kLen := math.Sqrt(6) * s.matchK // ρ(a + Mb) and the constant 2ρ
			fast, slow = kLen, kLen
		}
		for _, f := range s.hiPairs {
			a, b := s.ropePair(f)
			dst[a], dst[b] = float32(fast/math.Sqrt(hd)), float32(fast/math.Sqrt(hd))
		}
		for _, j := range s.lo {
			dst[j] = float32(slow / math.Sqrt(hd))
		}
	}
}

// postNormRow: Gemma 3 normalizes what attention and the FFN write before
// adding it. Designed outputs (P1, P2, flags, N) get back their designed
// size; random outputs get the noise level on R.
func (s *llmShape) postNormRow(l int, ffn bool) llamaRowFunc {
	return func(_ *rand.Rand, _ int, dst []float32) {
		clear(dst)
		D := float64(s.d.Dim)
		if ffn || !s.designed(l) {
			w := s.noise() * s.aR * math.Sqrt(float64(s.nR)/D)
			for i := range s.nR {
				dst[s.offR+i] = float32(w)
			}
			return
		}
		// Layer 0 writes P1 and P2 (unit vectors) and the flags.
		n := 2.0
		if s.spec.tools {
			n++
		}
		if s.spec.thinking {
			n++
		}
		w := math.Sqrt(n / D)
		for i := range s.kE {
			dst[s.offP1+i], dst[s.offP2+i] = float32(w), float32(w)
			if l == 1 {
				dst[s.offN+i] = float32(math.Sqrt(1 / D))
			}
		}
		dst[s.dimT], dst[s.dimK] = float32(w), float32(w)
	}
}

// tensors lists every tensor of the model in GGUF naming.
func (s *llmShape) tensors(weightKind uint32) []*ggml.Tensor {
	d := s.d
	f32 := uint32(ggml.TensorTypeF32)
	w := llamaWeights{seed: s.seed}
	q, kv := d.Heads*d.HeadDim, d.KVHeads*d.HeadDim
	ts := []*ggml.Tensor{
		w.tensor("token_embd.weight", weightKind, s.embeddingRow, d.Dim, d.Vocab),
		w.tensor("output_norm.weight", f32, onesRow, d.Dim),
		w.tensor("output.weight", weightKind, s.outputRow, d.Dim, d.Vocab),
	}
	for l := range d.Layers {
		name := func(n string) string { return fmt.Sprintf("blk.%d.%s.weight", l, n) }
		ts = append(ts,
			w.tensor(name("attn_norm"), f32, onesRow, d.Dim),
			w.tensor(name("attn_q"), weightKind, s.qRow(l), d.Dim, q),
			w.tensor(name("attn_k"), weightKind, s.kRow(l), d.Dim, kv),
			w.tensor(name("attn_v"), weightKind, s.vRow(l), d.Dim, kv),
			w.tensor(name("attn_output"), weightKind, s.oRow(l), q, d.Dim),
			w.tensor(name("ffn_norm"), f32, onesRow, d.Dim),
			w.tensor(name("ffn_gate"), weightKind, s.ffnGateRow(l), d.Dim, d.FFN),
			w.tensor(name("ffn_up"), weightKind, s.ffnUpRow(l), d.Dim, d.FFN),
			w.tensor(name("ffn_down"), weightKind, s.ffnDownRow(l), d.FFN, d.Dim),
		)
		if s.spec.arch.qkNorm() {
			ts = append(ts,
				w.tensor(name("attn_q_norm"), f32, s.qkNormRow(l, false), d.HeadDim),
				w.tensor(name("attn_k_norm"), f32, s.qkNormRow(l, true), d.HeadDim),
			)
		}
		if s.spec.arch.postNorms() {
			ts = append(ts,
				w.tensor(name("post_attention_norm"), f32, s.postNormRow(l, false), d.Dim),
				w.tensor(name("post_ffw_norm"), f32, s.postNormRow(l, true), d.Dim),
			)
		}
	}
	return ts
}

// writeGGUF writes kv and the shaped tensors to path (via a temporary file).
func (s *llmShape) writeGGUF(ctx context.Context, path string, kv ggml.KV) error {
	kind := uint32(ggml.TensorTypeF32)
	if s.d.F16 {
		kind = uint32(ggml.TensorTypeF16)
	}
	ts := s.tensors(kind)
	if err := ctx.Err(); err != nil {
		return err
	}
	return writeGGUFFile(path, kv, ts)
}
