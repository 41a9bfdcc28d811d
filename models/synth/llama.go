package synth

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/ollama/ollama/fs/ggml"
	"github.com/x448/float16"

	"github.com/edgeinfer/edgeinfer/engine"
)

// LlamaDims are the architecture dimensions of a generated Llama model.
type LlamaDims struct {
	Vocab   int  `json:"vocab_size"`
	Dim     int  `json:"hidden_size"`
	Layers  int  `json:"num_hidden_layers"`
	Heads   int  `json:"num_attention_heads"`
	KVHeads int  `json:"num_key_value_heads"`
	FFN     int  `json:"intermediate_size"`
	Context int  `json:"max_position_embeddings"`
	F16     bool `json:"-"`
}

// LlamaPresetDims returns the dimensions used for a preset: tiny is a few
// hundred KB for tests and the demo; full has a few hundred million F16
// parameters (Llama-2's 32,000-token vocabulary) for throughput work.
func LlamaPresetDims(p Preset) LlamaDims {
	if p == Full {
		return LlamaDims{Vocab: 32000, Dim: 1024, Layers: 16, Heads: 16, KVHeads: 8, FFN: 2816, Context: 4096, F16: true}
	}
	return LlamaDims{Vocab: 1024, Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, FFN: 176, Context: 4096}
}

// HeadDim is the per-head width of queries, keys and values.
func (d LlamaDims) HeadDim() int { return d.Dim / d.Heads }

// ParameterCount counts the weights, norms included.
func (d LlamaDims) ParameterCount() int {
	hd := d.HeadDim()
	perLayer := 2*d.Dim + // attn_norm, ffn_norm
		d.Dim*d.Heads*hd + 2*d.Dim*d.KVHeads*hd + d.Heads*hd*d.Dim + // q, k, v, output
		3*d.Dim*d.FFN // gate, up, down
	return 2*d.Vocab*d.Dim + d.Dim + d.Layers*perLayer
}

func init() {
	register(Generator{Model: engine.SyntheticLlamaID, Generate: generateLlama})
}

func generateLlama(ctx context.Context, dir string, o Options) error {
	d := LlamaPresetDims(o.Preset)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := WriteLlamaGGUF(ctx, filepath.Join(dir, "model.gguf"), d, llamaSeed(o.Seed)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Modelfile"), []byte(llamaModelfile(d)), 0o644); err != nil {
		return err
	}
	cfg := map[string]any{
		MarkerKey:         true,
		"architecture":    "llama",
		"preset":          o.Preset,
		"dims":            d,
		"head_dim":        d.HeadDim(),
		"torch_dtype":     map[bool]string{true: "float16", false: "float32"}[d.F16],
		"parameter_count": d.ParameterCount(),
		"ollama_tag":      engine.SyntheticLlamaTag,
		"gguf":            "model.gguf",
		"modelfile":       "Modelfile",
		"seed":            llamaSeed(o.Seed),
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644)
}

func llamaSeed(seed uint64) uint64 {
	if seed == 0 {
		return 0x11a3a // default seed; any fixed value keeps runs reproducible
	}
	return seed
}

// llamaChatTemplate is the Llama-2 chat format in Ollama's Go template
// language: system messages are folded into the next user turn's <<SYS>>
// block, and each finished assistant turn closes with </s><s> before the
// next [INST] (the first <s> is the tokenizer's add_bos).
const llamaChatTemplate = `{{- $sys := "" }}
{{- range .Messages }}
{{- if eq .Role "system" }}
{{- if $sys }}{{ $sys = printf "%s\n\n%s" $sys .Content }}{{ else }}{{ $sys = .Content }}{{ end }}
{{- else if eq .Role "user" }}[INST] {{ if $sys }}<<SYS>>
{{ $sys }}
<</SYS>>

{{ end }}{{ .Content }} [/INST]{{ $sys = "" }}
{{- else if eq .Role "assistant" }} {{ .Content }} </s><s>
{{- end }}
{{- end }}`

func llamaModelfile(d LlamaDims) string {
	var b strings.Builder
	b.WriteString("# Synthetic Llama (random weights, edgeinfer): output is not meaningful text.\n")
	b.WriteString("FROM ./model.gguf\n")
	fmt.Fprintf(&b, "TEMPLATE \"\"\"%s\"\"\"\n", llamaChatTemplate)
	for _, stop := range []string{"[INST]", "[/INST]", "</s>"} {
		fmt.Fprintf(&b, "PARAMETER stop %q\n", stop)
	}
	fmt.Fprintf(&b, "PARAMETER num_ctx %d\n", d.Context)
	return b.String()
}

// WriteLlamaGGUF writes a Llama model with deterministic random weights to
// path, in the GGUF layout Ollama's llama.cpp runner loads. Weights that come
// out NaN or infinite (or overflow F16) fail the write.
func WriteLlamaGGUF(ctx context.Context, path string, d LlamaDims, seed uint64) error {
	if d.Dim%d.Heads != 0 || d.Heads%d.KVHeads != 0 {
		return fmt.Errorf("llama dims: %d heads must divide dim %d and be a multiple of %d kv heads", d.Heads, d.Dim, d.KVHeads)
	}
	vocab := newLlamaVocab(d.Vocab)
	if len(vocab.tokens) != d.Vocab {
		return fmt.Errorf("llama vocab: built %d tokens, want %d", len(vocab.tokens), d.Vocab)
	}
	fileType, weightKind := uint32(0), uint32(ggml.TensorTypeF32)
	if d.F16 {
		fileType, weightKind = 1, uint32(ggml.TensorTypeF16)
	}
	hd := uint32(d.HeadDim())
	// Getters in Ollama check exact Go types, so every number is converted
	// to the type it is read back as.
	kv := ggml.KV{
		"general.architecture":                   "llama",
		"general.name":                           "edgeinfer-llama-synthetic",
		"general.alignment":                      uint32(32),
		"general.file_type":                      fileType,
		"general.parameter_count":                uint64(d.ParameterCount()),
		"llama.vocab_size":                       uint32(d.Vocab),
		"llama.context_length":                   uint32(d.Context),
		"llama.embedding_length":                 uint32(d.Dim),
		"llama.block_count":                      uint32(d.Layers),
		"llama.feed_forward_length":              uint32(d.FFN),
		"llama.attention.head_count":             uint32(d.Heads),
		"llama.attention.head_count_kv":          uint32(d.KVHeads),
		"llama.attention.key_length":             hd,
		"llama.attention.value_length":           hd,
		"llama.rope.dimension_count":             hd,
		"llama.rope.freq_base":                   float32(10000),
		"llama.attention.layer_norm_rms_epsilon": float32(1e-5),
		"tokenizer.ggml.model":                   "llama",
		"tokenizer.ggml.pre":                     "default",
		"tokenizer.ggml.tokens":                  vocab.tokens,
		"tokenizer.ggml.scores":                  vocab.scores,
		"tokenizer.ggml.token_type":              vocab.types,
		"tokenizer.ggml.bos_token_id":            uint32(llamaBOS),
		"tokenizer.ggml.eos_token_id":            uint32(llamaEOS),
		"tokenizer.ggml.unknown_token_id":        uint32(llamaUNK),
		"tokenizer.ggml.padding_token_id":        uint32(llamaUNK),
		"tokenizer.ggml.add_bos_token":           true,
		"tokenizer.ggml.add_eos_token":           false,
		"tokenizer.ggml.add_space_prefix":        true,
	}

	w := llamaWeights{d: d, seed: seed, bias: vocab.bias}
	ts := []*ggml.Tensor{
		w.tensor("token_embd.weight", weightKind, w.embeddingRow, d.Dim, d.Vocab),
		w.tensor("output_norm.weight", uint32(ggml.TensorTypeF32), w.onesRow, d.Dim),
		w.tensor("output.weight", weightKind, w.outputRow, d.Dim, d.Vocab),
	}
	qDim, kvDim := d.Heads*d.HeadDim(), d.KVHeads*d.HeadDim()
	inStd := 1 / math.Sqrt(float64(d.Dim))
	for l := range d.Layers {
		name := func(s string) string { return fmt.Sprintf("blk.%d.%s.weight", l, s) }
		ts = append(ts,
			// Norms stay F32 in every file type, as llama.cpp's converters keep them.
			w.tensor(name("attn_norm"), uint32(ggml.TensorTypeF32), w.onesRow, d.Dim),
			w.tensor(name("attn_q"), weightKind, w.readerRow(inStd), d.Dim, qDim),
			w.tensor(name("attn_k"), weightKind, w.readerRow(inStd), d.Dim, kvDim),
			w.tensor(name("attn_v"), weightKind, w.readerRow(inStd), d.Dim, kvDim),
			w.tensor(name("attn_output"), weightKind, w.writerRow(0.5/math.Sqrt(float64(qDim))), qDim, d.Dim),
			w.tensor(name("ffn_norm"), uint32(ggml.TensorTypeF32), w.onesRow, d.Dim),
			w.tensor(name("ffn_gate"), weightKind, w.readerRow(inStd), d.Dim, d.FFN),
			w.tensor(name("ffn_up"), weightKind, w.readerRow(inStd), d.Dim, d.FFN),
			w.tensor(name("ffn_down"), weightKind, w.writerRow(0.5/math.Sqrt(float64(d.FFN))), d.FFN, d.Dim),
		)
	}

	if err := ctx.Err(); err != nil {
		return err
	}
	return writeGGUFFile(path, kv, ts)
}

// The per-token logit bias rides on hidden dimension 0 (llamaBiasDim): every
// token embedding holds the same constant there, no layer reads it (column 0
// of every matrix reading the residual stream is zero) and none writes it
// (row 0 of attn_output and ffn_down is zero). After the final RMS norm that
// dimension is about sqrt(dim/2), so output.weight's column 0 adds a chosen
// bias to each token's logit while the other columns add random,
// context-dependent logits.
const llamaBiasDim = 0

// llamaLogitStd is the spread of the random, context-dependent part of the
// logits: wide enough that sampling varies, narrow enough for the bias to
// keep byte and control tokens out.
const llamaLogitStd = 2.0

// llamaWeights generates every tensor of one model from (seed, tensor name),
// so the bytes do not depend on the order WriteGGUF writes tensors in.
type llamaWeights struct {
	d    LlamaDims
	seed uint64
	bias []float32
}

// llamaRowFunc fills one row (the innermost dimension) of a tensor.
type llamaRowFunc func(rng *rand.Rand, row int, dst []float32)

// tensor declares a tensor of the given shape (innermost dimension first, as
// GGUF stores it) whose rows fill writes.
func (w llamaWeights) tensor(name string, kind uint32, fill llamaRowFunc, shape ...int) *ggml.Tensor {
	dims := make([]uint64, len(shape))
	rows := 1
	for i, n := range shape {
		dims[i] = uint64(n)
		if i > 0 {
			rows *= n
		}
	}
	cols := shape[0]
	h := fnv.New64a()
	h.Write([]byte(name))
	return &ggml.Tensor{Name: name, Kind: kind, Shape: dims, WriterTo: &llamaTensorWriter{
		name: name, f16: kind == uint32(ggml.TensorTypeF16), cols: cols, rows: rows, fill: fill,
		rng: rand.New(rand.NewPCG(w.seed, h.Sum64())),
	}}
}

func (w llamaWeights) onesRow(_ *rand.Rand, _ int, dst []float32) {
	for i := range dst {
		dst[i] = 1
	}
}

func (w llamaWeights) embeddingRow(rng *rand.Rand, _ int, dst []float32) {
	for i := range dst {
		dst[i] = float32(rng.NormFloat64())
	}
	// Makes dimension 0 as large as all the others together, so after the
	// RMS norm it sits near sqrt(dim/2).
	dst[llamaBiasDim] = float32(math.Sqrt(float64(len(dst) - 1)))
}

func (w llamaWeights) outputRow(rng *rand.Rand, token int, dst []float32) {
	std := llamaLogitStd / math.Sqrt(float64(len(dst))/2)
	for i := range dst {
		dst[i] = float32(rng.NormFloat64() * std)
	}
	dst[llamaBiasDim] = w.bias[token] / float32(math.Sqrt(float64(len(dst))/2))
}

// readerRow is a row of a matrix that reads the residual stream; it ignores
// the bias dimension.
func (w llamaWeights) readerRow(std float64) llamaRowFunc {
	return func(rng *rand.Rand, _ int, dst []float32) {
		for i := range dst {
			dst[i] = float32(rng.NormFloat64() * std)
		}
		dst[llamaBiasDim] = 0
	}
}

// writerRow is a row of a matrix that writes the residual stream; row 0
// would change the bias dimension and stays zero.
func (w llamaWeights) writerRow(std float64) llamaRowFunc {
	return func(rng *rand.Rand, row int, dst []float32) {
		for i := range dst {
			if row == llamaBiasDim {
				dst[i] = 0
				continue
			}
			dst[i] = float32(rng.NormFloat64() * std)
		}
	}
}

// llamaTensorWriter streams one tensor row by row, so a full-size model is
// written without holding its weights in memory.
type llamaTensorWriter struct {
	name       string
	f16        bool
	cols, rows int
	fill       llamaRowFunc
	rng        *rand.Rand
}

func (t *llamaTensorWriter) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	vals := make([]float32, t.cols)
	elem := 4
	if t.f16 {
		elem = 2
	}
	buf := make([]byte, t.cols*elem)
	var n int64
	for r := range t.rows {
		t.fill(t.rng, r, vals)
		for i, v := range vals {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || (t.f16 && math.Abs(float64(v)) > 65504) {
				return n, fmt.Errorf("%s[%d][%d] = %v is not a finite weight", t.name, r, i, v)
			}
			if t.f16 {
				bits := float16.Fromfloat32(v).Bits()
				buf[2*i], buf[2*i+1] = byte(bits), byte(bits>>8)
			} else {
				bits := math.Float32bits(v)
				buf[4*i], buf[4*i+1], buf[4*i+2], buf[4*i+3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
			}
		}
		m, err := bw.Write(buf)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}

// writeGGUFFile writes a GGUF file through a temporary name, so a reader
// never sees a half-written model.
func writeGGUFFile(path string, kv ggml.KV, ts []*ggml.Tensor) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(path + ".tmp") // no-op after the rename
	if err := ggml.WriteGGUF(f, kv, ts); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
