package synth

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/tokenize/hf"
)

type hfFileForTest struct {
	Added []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer    map[string]any `json:"normalizer"`
	PreTokenizer  map[string]any `json:"pre_tokenizer"`
	PostProcessor map[string]any `json:"post_processor"`
	Model         struct {
		Type         string          `json:"type"`
		ByteFallback bool            `json:"byte_fallback"`
		Vocab        map[string]int  `json:"vocab"`
		Merges       json.RawMessage `json:"merges"`
	} `json:"model"`
}

func decodeHF(t *testing.T, raw []byte) hfFileForTest {
	t.Helper()
	var f hfFileForTest
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// The files have the real id counts and special tokens at the real ids, and
// every merge joins two tokens of the vocabulary into a third.
func TestHFTokenizerShapes(t *testing.T) {
	for _, c := range []struct {
		name     string
		build    func(Preset) ([]byte, error)
		preset   Preset
		ids      int
		specials map[string]int
	}{
		{"qwen3 tiny", Qwen3TokenizerJSON, Tiny, qwen3TinyVocab + 26, map[string]int{"<|endoftext|>": qwen3TinyVocab, "</think>": qwen3TinyVocab + 25}},
		{"qwen3 full", Qwen3TokenizerJSON, Full, 151669, map[string]int{"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645, "</think>": 151668}},
		{"gemma tiny", GemmaTokenizerJSON, Tiny, gemmaTinyVocab, map[string]int{"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4, "<start_of_turn>": 105, "<end_of_turn>": 106}},
		{"gemma full", GemmaTokenizerJSON, Full, 262144, map[string]int{"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3}},
	} {
		raw, err := c.build(c.preset)
		if err != nil {
			t.Fatal(err)
		}
		f := decodeHF(t, raw)
		ids := map[int]bool{}
		for _, id := range f.Model.Vocab {
			ids[id] = true
		}
		for _, a := range f.Added {
			ids[a.ID] = true
			if want, ok := c.specials[a.Content]; ok && a.ID != want {
				t.Errorf("%s: %s has id %d, want %d", c.name, a.Content, a.ID, want)
			}
		}
		if len(ids) != c.ids || !ids[0] || !ids[c.ids-1] {
			t.Errorf("%s: %d distinct ids, want 0..%d", c.name, len(ids), c.ids-1)
		}
		var pairs [][2]string
		var lines []string
		if json.Unmarshal(f.Model.Merges, &lines) == nil {
			for _, l := range lines {
				a, b, _ := strings.Cut(l, " ")
				pairs = append(pairs, [2]string{a, b})
			}
		} else if err := json.Unmarshal(f.Model.Merges, &pairs); err != nil {
			t.Fatal(err)
		}
		if len(pairs) < 1000 {
			t.Errorf("%s: only %d merges", c.name, len(pairs))
		}
		for _, p := range pairs {
			for _, tok := range []string{p[0], p[1], p[0] + p[1]} {
				if _, ok := f.Model.Vocab[tok]; !ok {
					t.Fatalf("%s: merge %q: %q not in vocab", c.name, p, tok)
				}
			}
		}
	}
}

// The pipelines are the real files': Qwen3 splits with the Qwen2 regex then
// maps bytes and appends <|endoftext|>; Gemma marks spaces and wraps the
// text in <bos> … <eos>; the learnt merges reach whole words of the corpus.
func TestHFTokenizerPipelines(t *testing.T) {
	q, err := Qwen3TokenizerJSON(Tiny)
	if err != nil {
		t.Fatal(err)
	}
	qf := decodeHF(t, q)
	if qf.Normalizer["type"] != "NFC" || qf.PreTokenizer["type"] != "Sequence" || qf.PostProcessor["type"] != "TemplateProcessing" {
		t.Errorf("qwen3 sections: %v %v %v", qf.Normalizer, qf.PreTokenizer, qf.PostProcessor)
	}
	if !bytes.Contains(q, []byte(`"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"`)) {
		t.Error("qwen3: the Split regex is not Qwen2's")
	}
	for _, w := range []string{" translation", " traduction", " Übersetzer", "小型翻译引擎在窗边一台安静的电脑上运行"} {
		if _, ok := qf.Model.Vocab[bpeSpell(w)]; !ok {
			t.Errorf("qwen3: no token for %q", w)
		}
	}
	g, err := GemmaTokenizerJSON(Tiny)
	if err != nil {
		t.Fatal(err)
	}
	gf := decodeHF(t, g)
	if gf.Normalizer["type"] != "Replace" || gf.PreTokenizer["type"] != "Split" || !gf.Model.ByteFallback {
		t.Errorf("gemma sections: %v %v byte_fallback %v", gf.Normalizer, gf.PreTokenizer, gf.Model.ByteFallback)
	}
	for _, w := range []string{"▁translation", "▁Übersetzer", "<0x00>", "<0xFF>", "\t", "\n"} {
		if _, ok := gf.Model.Vocab[w]; !ok {
			t.Errorf("gemma: no token %q", w)
		}
	}
	for _, cfg := range []func() ([]byte, error){func() ([]byte, error) { return Qwen3TokenizerConfigJSON(Tiny) }, GemmaTokenizerConfigJSON} {
		raw, err := cfg()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if m["tokenizer_class"] != "Qwen2Tokenizer" && m["tokenizer_class"] != "GemmaTokenizer" {
			t.Errorf("tokenizer_config: class %v", m["tokenizer_class"])
		}
	}
}

// tokenize/hf's tests and fuzz target read the tiny presets from its
// testdata (a leaf package cannot import this one); those copies must be
// what the generators write. EDGEINFER_UPDATE_TESTDATA=1 rewrites them.
func TestHFTokenizerTestdataCurrent(t *testing.T) {
	dir := filepath.Join("..", "..", "tokenize", "hf", "testdata")
	for name, build := range map[string]func(Preset) ([]byte, error){
		"qwen3-tiny.tokenizer.json.gz": Qwen3TokenizerJSON,
		"gemma-tiny.tokenizer.json.gz": GemmaTokenizerJSON,
	} {
		want, err := build(Tiny)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if os.Getenv("EDGEINFER_UPDATE_TESTDATA") == "1" {
			var b bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
			zw.Write(want)
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatalf("%v (EDGEINFER_UPDATE_TESTDATA=1 go test -run TestHFTokenizerTestdataCurrent ./models/synth writes it)", err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not the generator's output (EDGEINFER_UPDATE_TESTDATA=1 go test -run TestHFTokenizerTestdataCurrent ./models/synth rewrites it)", path)
		}
	}
}

// writeBPETokenizer writes a preset's tokenizer.json and tokenizer_config.json.
func writeBPETokenizer(t *testing.T, name string, p Preset) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name+"-"+string(p))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var tok, cfg []byte
	var err error
	switch name {
	case "qwen3":
		if tok, err = Qwen3TokenizerJSON(p); err == nil {
			cfg, err = Qwen3TokenizerConfigJSON(p)
		}
	case "gemma":
		if tok, err = GemmaTokenizerJSON(p); err == nil {
			cfg, err = GemmaTokenizerConfigJSON()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	for file, b := range map[string][]byte{"tokenizer.json": tok, "tokenizer_config.json": cfg} {
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// bpeJSDiffers: the one place transformers.js departs from the Rust library
// on these files is a pair whose second text is empty, which it
// (text_pair || null) encodes as no pair.
func bpeJSDiffers(*hf.Tokenizer) func(parityCase) bool {
	return func(c parityCase) bool { return c.B != nil && *c.B == "" }
}

func TestQwen3TokenizerParityTiny(t *testing.T) {
	checkTokenizerParity(t, writeBPETokenizer(t, "qwen3", Tiny), corpus(t), bpeJSDiffers)
}

func TestQwen3TokenizerParityFull(t *testing.T) {
	checkTokenizerParity(t, writeBPETokenizer(t, "qwen3", Full), corpus(t), bpeJSDiffers)
}

func TestGemmaTokenizerParityTiny(t *testing.T) {
	checkTokenizerParity(t, writeBPETokenizer(t, "gemma", Tiny), corpus(t), bpeJSDiffers)
}

func TestGemmaTokenizerParityFull(t *testing.T) {
	checkTokenizerParity(t, writeBPETokenizer(t, "gemma", Full), corpus(t), bpeJSDiffers)
}
