package synth

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	ollamatok "github.com/ollama/ollama/tokenizer"
	"github.com/ollama/ollama/types/model"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/enginetest"
	"github.com/edgeinfer/edgeinfer/engine/home"
	"github.com/edgeinfer/edgeinfer/models/bert"
	"github.com/edgeinfer/edgeinfer/models/llm/ollamaserver"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
)

// ollamaEmbedTexts are embedded by both sides: ASCII, non-ASCII, a long
// text (~390 tokens, under BGE's 512) and texts on which Ollama's WordPiece
// is known to differ from Hugging Face's.
var ollamaEmbedTexts = []string{
	"Hello, World!",
	"Explain quantum computing in simple terms",
	"The Quick BROWN fox jumps over the lazy dog.\tTabs and\nnew lines too.",
	"Привет, мир! Москва и Санкт-Петербург.",
	"東京 北京 上海 🙂 (emoji)",
	"it's 5 o'clock; isn't it?",
	ollamaLongText(),
	// Known differences (ollamaTokenizerDifferences).
	"naïve café déjà vu",
	"a+b=c, x<y>z, $5 ^ 2 | ~",
}

// ollamaTokenizerDifferences are the texts whose token ids differ between
// Ollama 0.17.4's WordPiece (tokenizer/wordpiece.go) and Hugging Face's
// BertTokenizer on the same vocabulary, and why.
var ollamaTokenizerDifferences = map[string]string{
	"naïve café déjà vu": "Ollama lowercases but never strips accents, where Hugging Face's BertNormalizer " +
		"(strip_accents following lowercase) reads naïve as naive: Ollama gives [UNK] for naïve, café and déjà",
	"a+b=c, x<y>z, $5 ^ 2 | ~": "Ollama splits words only at Unicode punctuation (unicode.IsPunct), Hugging Face " +
		"also at every ASCII symbol ($ + < = > ^ ` | ~): Ollama reads a+b=c as one word, a ##+ ##b ##= ##c, and $5 as $ ##5",
}

func ollamaLongText() string {
	sentences := []string{
		"Edge inference moves models close to the people who use them.",
		"A scheduler packs requests of similar length into one batch.",
		"Latency at the tail matters more than the average on a busy day.",
		"Tokenizers split words into pieces that the vocabulary knows.",
		"Embeddings place related sentences near each other in space.",
	}
	var b strings.Builder
	for i := range 30 { // ~390 tokens
		b.WriteString(sentences[i%len(sentences)])
		b.WriteByte(' ')
	}
	return b.String()
}

// TestBGEOnOllamaMatchesONNX creates the tiny bge-base's GGUF in the real
// Ollama server (`make setup` installs it; the test fails without it) and
// checks /api/embed against edgeinfer's bert backend on the fp32 ONNX file
// in the real ONNX Runtime, CLS pooling on both sides: cosine ≥ 0.99 for
// every text Ollama tokenizes as Hugging Face's tokenizers library does
// (the Rust library through node, as the tokenizer parity tests run it).
// Texts it tokenizes differently must be the known ones.
func TestBGEOnOllamaMatchesONNX(t *testing.T) {
	orttest.Require(t)
	node := requireTokenizerPeers(t)
	bin := home.Resolve("", os.Getenv).OllamaBin
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("no Ollama server binary at %s: run `make setup` (or set EDGEINFER_OLLAMA_BIN): %v", bin, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const id = "@cf/baai/bge-base-en-v1.5"
	dir := filepath.Join(generateTiny(t, 0, id), filepath.FromSlash(id))
	var cases []parityCase
	for _, s := range ollamaEmbedTexts {
		cases = append(cases, parityCase{A: s})
	}
	hfIDs := peerIDs(t, node, "rust", dir, cases)
	ollamaIDs := ollamaWordPiece(t, filepath.Join(dir, BGEOllamaDir, "model.gguf"), ollamaEmbedTexts)
	ollamaVecs, counts := ollamaEmbed(t, ctx, filepath.Join(dir, BGEOllamaDir), ollamaEmbedTexts)
	onnxVecs := onnxEmbed(t, ctx, dir, ollamaEmbedTexts)

	for i, text := range ollamaEmbedTexts {
		name := text
		if r := []rune(name); len(r) > 40 {
			name = string(r[:40]) + "…"
		}
		if counts[i] != len(ollamaIDs[i]) {
			t.Errorf("%q: the server counted %d tokens, Ollama's WordPiece in process %d", name, counts[i], len(ollamaIDs[i]))
		}
		if len(ollamaVecs[i]) != len(onnxVecs[i]) {
			t.Errorf("%q: Ollama gave %d dimensions, ONNX %d", name, len(ollamaVecs[i]), len(onnxVecs[i]))
			continue
		}
		cos := cosine(ollamaVecs[i], onnxVecs[i])
		same := slices.Equal(hfIDs[i], ollamaIDs[i])
		why, known := ollamaTokenizerDifferences[text]
		switch {
		case same && known:
			t.Errorf("%q: listed as a tokenizer difference but Ollama now tokenizes it as Hugging Face does", name)
		case !same && !known:
			t.Errorf("%q: Ollama's tokens %v differ from Hugging Face's %v (cosine %.4f)", name, ollamaIDs[i], hfIDs[i], cos)
		case !same:
			t.Logf("%q: known tokenizer difference, cosine %.4f\n  Hugging Face %v\n  Ollama       %v\n  %s", name, cos, hfIDs[i], ollamaIDs[i], why)
		case cos < 0.99:
			t.Errorf("%q (%d tokens): cosine(Ollama, ONNX) = %.5f, want ≥ 0.99", name, len(hfIDs[i]), cos)
		default:
			t.Logf("%q (%d tokens): cosine %.6f", name, len(hfIDs[i]), cos)
		}
	}
}

// ollamaWordPiece tokenizes texts with Ollama's own WordPiece over the
// GGUF's vocabulary, as its bert model builds it (model/models/bert.New).
func ollamaWordPiece(t *testing.T, gguf string, texts []string) [][]int64 {
	t.Helper()
	kv := readBGEGGUF(t, gguf).kv
	tok := ollamatok.NewWordPiece(&ollamatok.Vocabulary{
		Values: kv.Strings("tokenizer.ggml.tokens"),
		Types:  kv.Ints("tokenizer.ggml.token_type"),
		AddBOS: kv.Bool("tokenizer.ggml.add_bos_token", true),
		BOS:    []int32{int32(kv.Uint("tokenizer.ggml.cls_token_id"))},
		AddEOS: kv.Bool("tokenizer.ggml.add_eos_token", true),
		EOS:    []int32{int32(kv.Uint("tokenizer.ggml.seperator_token_id"))},
	}, true)
	out := make([][]int64, len(texts))
	for i, s := range texts {
		ids, err := tok.Encode(s, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			out[i] = append(out[i], int64(id))
		}
	}
	return out
}

// ollamaEmbed creates the model from modelDir in a managed Ollama server
// with a private store and embeds each text in its own request; it returns
// the vectors and the server's token counts.
func ollamaEmbed(t *testing.T, ctx context.Context, modelDir string, texts []string) ([][]float32, []int) {
	t.Helper()
	t.Setenv("OLLAMA_HOST", "") // never a developer's own server
	srv, err := ollamaserver.Start(ctx, ollamaserver.Options{
		Binary:    home.Resolve("", os.Getenv).OllamaBin,
		ModelsDir: t.TempDir(),
		KeepAlive: "5m",
		Env:       []string{"HOME=" + t.TempDir()}, // Ollama's key file
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	if err := ollamaserver.EnsureModel(ctx, c, BGEOllamaTag, modelDir); err != nil {
		t.Fatal(err)
	}
	show, err := c.Show(ctx, &api.ShowRequest{Model: BGEOllamaTag})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(show.Capabilities, func(c model.Capability) bool { return c == model.CapabilityEmbedding }) {
		t.Fatalf("Ollama reports capabilities %v, want embedding", show.Capabilities)
	}
	vecs, counts := make([][]float32, len(texts)), make([]int, len(texts))
	for i, s := range texts {
		res, err := c.Embed(ctx, &api.EmbedRequest{Model: BGEOllamaTag, Input: s, Options: map[string]any{"num_thread": 1}})
		if err != nil {
			t.Fatalf("embed %q: %v", s, err)
		}
		if len(res.Embeddings) != 1 {
			t.Fatalf("embed %q: %d embeddings", s, len(res.Embeddings))
		}
		vecs[i], counts[i] = res.Embeddings[0], res.PromptEvalCount
	}
	return vecs, counts
}

// onnxEmbed embeds texts with edgeinfer's bert backend on dir's fp32 ONNX
// file, [CLS] pooling as BGE's sentence-transformers config says.
func onnxEmbed(t *testing.T, ctx context.Context, dir string, texts []string) [][]float32 {
	t.Helper()
	const id = "@cf/baai/bge-base-en-v1.5"
	eng := enginetest.New(t, map[string]engine.ModelConfig{id: {Dir: dir, Variant: "fp32"}},
		map[string]engine.Backend{bert.Kind: bert.Backend{}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	out, err := eng.Run(ctx, id, engine.Input{Value: &engine.EmbeddingsInput{Text: texts, Pooling: "cls", TruncateInputs: true}})
	if err != nil {
		t.Fatal(err)
	}
	return out.(*engine.EmbeddingsOutput).Data
}
