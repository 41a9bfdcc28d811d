package synth

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/ollama/ollama/fs/ggml"
)

// The Ollama form of a synthetic BGE model: the same weights as its ONNX
// files, in the GGUF layout Ollama 0.17.4's converter writes for a
// sentence-transformers BertModel (convert/convert_bert.go) and its Go
// engine's "bert" architecture loads (model/models/bert), beside a Modelfile,
// so the embeddings peer most users run (`/api/embed`) can be measured and
// checked against edgeinfer on identical weights.

// BGEOllamaDir is the folder inside a BGE model directory that holds
// model.gguf and its Modelfile (the layout ollamaserver.EnsureModel creates
// a model from).
const BGEOllamaDir = "ollama"

// BGEOllamaTag is the Ollama model name the synthetic bge-base is created as.
const BGEOllamaTag = "edgeinfer/bge-base-synthetic:latest"

// bgeOllamaModel is the BGE model (and its aliases) written with an Ollama
// form too: the one the embeddings benchmark compares; the others would
// only add disk (1.3 GB for full-size bge-large).
const bgeOllamaModel = "@cf/baai/bge-base-en-v1.5"

// bertPoolingCLS is Ollama's pooling.TypeCLS (bert.pooling_type): BGE
// embeds a text as its [CLS] state (1_Pooling/config.json).
const bertPoolingCLS = 2

// bertGGUFNames maps Hugging Face BertModel parameter names to GGUF tensor
// names, as Ollama's converter renames them.
var bertGGUFNames = strings.NewReplacer(
	"encoder.layer", "blk",
	"embeddings.word_embeddings", "token_embd",
	"embeddings.token_type_embeddings", "token_types",
	"embeddings.LayerNorm", "token_embd_norm",
	"embeddings.position_embeddings", "position_embd",
	"attention.self.query", "attn_q",
	"attention.self.key", "attn_k",
	"attention.self.value", "attn_v",
	"attention.output.dense", "attn_output",
	"attention.output.LayerNorm", "attn_output_norm",
	"intermediate.dense", "ffn_up",
	"output.dense", "ffn_down",
	"output.LayerNorm", "layer_output_norm",
)

// writeBGEOllama writes dir/ollama/model.gguf from the encoder weights w
// (bertArch names) and the Modelfile that serves it.
func writeBGEOllama(ctx context.Context, dir string, v bgeVariant, d BertDims, w map[string]bertWeight) error {
	out := filepath.Join(dir, BGEOllamaDir)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	kv, err := bertGGUFMetadata(v, d)
	if err != nil {
		return err
	}
	var ts []*ggml.Tensor
	var params uint64
	for _, p := range encoderParams(d, bertArch) {
		t := bertGGUFTensor(p.name, w[p.name])
		ts = append(ts, t)
		params += t.Elements()
	}
	kv["general.parameter_count"] = params
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := writeGGUFFile(filepath.Join(out, "model.gguf"), kv, ts); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "Modelfile"), []byte(bgeModelfile(v)), 0o644)
}

// bgeModelfile creates the model from the GGUF beside it; an embedding
// model needs no template.
func bgeModelfile(v bgeVariant) string {
	return fmt.Sprintf("# Synthetic %s (random weights; edgeinfer): embeddings are not meaningful.\n"+
		"FROM ./model.gguf\nPARAMETER num_ctx %d\n", v.upstream, bertMaxLength)
}

// bertGGUFMetadata holds the architecture and WordPiece tokenizer keys.
// Values carry the exact Go types Ollama's getters check (uint32, float32,
// []int32).
func bertGGUFMetadata(v bgeVariant, d BertDims) (ggml.KV, error) {
	tokens, types, err := bertGGUFVocabulary()
	if err != nil {
		return nil, err
	}
	if len(tokens) != d.Vocab {
		return nil, fmt.Errorf("bert gguf: vocabulary has %d tokens, want %d", len(tokens), d.Vocab)
	}
	scores := make([]float32, len(tokens))
	for i := range scores {
		scores[i] = float32(i) // what Ollama's converter writes for a tokenizer.json vocabulary
	}
	return ggml.KV{
		"general.architecture":              "bert",
		"general.name":                      "edgeinfer-" + strings.TrimPrefix(v.upstream, "BAAI/") + "-synthetic",
		"general.alignment":                 uint32(32),
		"general.file_type":                 uint32(0), // F32: the fp32 ONNX file's weights, bit for bit
		"bert.context_length":               uint32(d.MaxPositions),
		"bert.embedding_length":             uint32(d.Hidden),
		"bert.feed_forward_length":          uint32(d.Intermediate),
		"bert.block_count":                  uint32(d.Layers),
		"bert.attention.head_count":         uint32(d.Heads),
		"bert.attention.layer_norm_epsilon": float32(bertLayerNormEps),
		"bert.attention.causal":             false,
		"bert.pooling_type":                 uint32(bertPoolingCLS),
		"bert.normalize_embeddings":         true,
		"tokenizer.ggml.model":              "bert",
		"tokenizer.ggml.pre":                "default",
		"tokenizer.ggml.tokens":             tokens,
		"tokenizer.ggml.scores":             scores,
		"tokenizer.ggml.token_type":         types,
		"tokenizer.ggml.token_type_count":   uint32(d.TypeVocab),
		"tokenizer.ggml.cls_token_id":       uint32(bertCLS),
		// "seperator" is the key llama.cpp and Ollama's converter write
		// (Ollama reads both spellings).
		"tokenizer.ggml.seperator_token_id": uint32(bertSEP),
		"tokenizer.ggml.unknown_token_id":   uint32(bertUNK),
		"tokenizer.ggml.padding_token_id":   uint32(bertPAD),
		"tokenizer.ggml.mask_token_id":      uint32(bertMASK),
		"tokenizer.ggml.add_bos_token":      true, // [CLS] first
		"tokenizer.ggml.add_eos_token":      true, // [SEP] last
	}, nil
}

// The special tokens of the bert-base-uncased vocabulary.
const (
	bertPAD  = 0
	bertUNK  = 100
	bertCLS  = 101
	bertSEP  = 102
	bertMASK = 103
)

// GGUF token types (llama.cpp's llama_token_type).
const (
	ggufTokenNormal  = 1
	ggufTokenControl = 3
)

// bertGGUFVocabulary is the WordPiece vocabulary in GGUF's "phantom space"
// form, as Ollama's converter writes it: a word-initial piece gets a "▁"
// prefix, a continuation ("##ing") loses its "##", and bracketed tokens
// ([CLS], [unused0]) stay as they are. The five special tokens are control
// tokens, the rest normal.
func bertGGUFVocabulary() (tokens []string, types []int32, err error) {
	_, vocab, err := bgeTokenizerFiles()
	if err != nil {
		return nil, nil, err
	}
	tokens = strings.Split(strings.TrimSuffix(string(vocab), "\n"), "\n")
	types = make([]int32, len(tokens))
	for i, tok := range tokens {
		types[i] = ggufTokenNormal
		switch {
		case i == bertPAD || i == bertUNK || i == bertCLS || i == bertSEP || i == bertMASK:
			types[i] = ggufTokenControl
		case strings.HasPrefix(tok, "[") && strings.HasSuffix(tok, "]"):
		case strings.HasPrefix(tok, "##"):
			tokens[i] = tok[2:]
		default:
			tokens[i] = "\u2581" + tok
		}
	}
	return tokens, types, nil
}

// bertGGUFTensor is one encoder parameter under its GGUF name, F32. GGUF
// gives shapes innermost dimension first. An embedding table [rows, hidden]
// keeps its bytes (shape {hidden, rows}); a linear weight, stored [in, out]
// for ONNX's MatMul, is written transposed, as PyTorch's [out, in], which is
// GGUF's {in, out}.
func bertGGUFTensor(name string, w bertWeight) *ggml.Tensor {
	shape := make([]uint64, len(w.dims))
	for i, n := range w.dims {
		shape[len(w.dims)-1-i] = uint64(n)
	}
	t := &f32Tensor{data: w.data}
	if len(w.dims) == 2 && !strings.HasPrefix(name, "embeddings.") {
		t.rows, t.cols = int(w.dims[0]), int(w.dims[1])
		t.transpose = true
		shape[0], shape[1] = uint64(t.rows), uint64(t.cols)
	}
	return &ggml.Tensor{Name: bertGGUFNames.Replace(name), Kind: uint32(ggml.TensorTypeF32), Shape: shape, WriterTo: t}
}

// f32Tensor writes float32 values little-endian, optionally transposing a
// row-major [rows, cols] matrix to [cols, rows].
type f32Tensor struct {
	data       []float32
	rows, cols int
	transpose  bool
}

func (t *f32Tensor) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var n int64
	var buf [4]byte
	put := func(v float32) error {
		bits := math.Float32bits(v)
		buf[0], buf[1], buf[2], buf[3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
		m, err := bw.Write(buf[:])
		n += int64(m)
		return err
	}
	if !t.transpose {
		for _, v := range t.data {
			if err := put(v); err != nil {
				return n, err
			}
		}
		return n, bw.Flush()
	}
	for c := range t.cols {
		for r := range t.rows {
			if err := put(t.data[r*t.cols+c]); err != nil {
				return n, err
			}
		}
	}
	return n, bw.Flush()
}
