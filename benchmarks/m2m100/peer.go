package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgeinfer/edgeinfer/models/m2m100"
	"github.com/edgeinfer/edgeinfer/tokenize/spm/spmpb"
)

// peerResult is what peer/run.mjs prints.
type peerResult struct {
	TokensPerS       float64 `json:"tokens_per_s"`
	Requests         int     `json:"requests"`
	TokensPerRequest float64 `json:"tokens_per_request"`
	P50              float64 `json:"p50_ms"`
	P99              float64 `json:"p99_ms"`
}

// peerView is a view of the model directory that adds the tokenizer.json
// transformers.js needs, with the benchmark's texts, for peer/run.mjs.
type peerView struct{ dir, texts string }

func newPeerView(dir string, texts []string) (*peerView, error) {
	view, err := os.MkdirTemp("", "m2m100-peer-")
	if err != nil {
		return nil, err
	}
	pv := &peerView{dir: view, texts: filepath.Join(view, "texts.json")}
	for _, f := range []string{"config.json", "generation_config.json", "tokenizer_config.json", "special_tokens_map.json", "onnx"} {
		abs, err := filepath.Abs(filepath.Join(dir, f))
		if err == nil {
			err = os.Symlink(abs, filepath.Join(view, f))
		}
		if err != nil {
			pv.close()
			return nil, err
		}
	}
	raw, _ := json.Marshal(texts)
	if err := writeTokenizerJSON(dir, filepath.Join(view, "tokenizer.json")); err != nil {
		pv.close()
		return nil, err
	}
	if err := os.WriteFile(pv.texts, raw, 0o644); err != nil {
		pv.close()
		return nil, err
	}
	return pv, nil
}

func (pv *peerView) close() { os.RemoveAll(pv.dir) }

// run runs the transformers.js translation pipeline greedy on the served
// weight variant with conc concurrent calls for d, or one batched call of
// -conc texts at a time when conc is negative.
func (pv *peerView) run(threads, conc, tokens int, d time.Duration) (peerResult, error) {
	// transformers.js names the int8 files' dtype q8 (suffix _quantized).
	dtype := map[string]string{"fp32": "fp32", "int8": "q8"}[servedVariant()]
	cmd := exec.Command("node", "run.mjs", pv.dir, fmt.Sprint(threads), fmt.Sprint(conc), fmt.Sprint(max(1, int(d.Seconds()))),
		fmt.Sprint(tokens), strings.Join(targets, ","), pv.texts, dtype)
	cmd.Dir = filepath.Join("benchmarks", "m2m100", "peer")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.Output()
	if err != nil {
		return peerResult{}, err
	}
	var p peerResult
	lines := strings.Split(strings.TrimSpace(string(stdout)), "\n")
	return p, json.Unmarshal([]byte(lines[len(lines)-1]), &p)
}

// writeTokenizerJSON converts the model's sentencepiece.bpe.model and
// vocab.json into the fast-tokenizer file transformers.js reads, the way
// Hugging Face's SentencePiece BPE conversion does: vocab.json as the BPE
// vocabulary, merges from every split of a piece into two pieces, ranked by
// the piece's score; the charsmap normalizer, ▁ pre-tokenization, the
// language tokens as special added tokens and [__src__] … </s> around the
// text.
func writeTokenizerJSON(dir, path string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "sentencepiece.bpe.model"))
	if err != nil {
		return err
	}
	sp := &spmpb.ModelProto{}
	if err := proto.Unmarshal(raw, sp); err != nil {
		return err
	}
	raw, err = os.ReadFile(filepath.Join(dir, "vocab.json"))
	if err != nil {
		return err
	}
	var vocab map[string]int
	if err := json.Unmarshal(raw, &vocab); err != nil {
		return err
	}
	var merges []string
	for _, p := range sp.GetPieces() {
		if p.GetType() != spmpb.ModelProto_SentencePiece_NORMAL {
			continue
		}
		piece := []rune(p.GetPiece())
		for i := 1; i < len(piece); i++ {
			l, r := string(piece[:i]), string(piece[i:])
			if _, ok := vocab[l]; !ok {
				continue
			}
			if _, ok := vocab[r]; ok {
				merges = append(merges, l+" "+r)
			}
		}
	}
	added := []map[string]any{}
	special := func(content string, id int) {
		added = append(added, map[string]any{"id": id, "content": content, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true})
	}
	for _, s := range []string{"<s>", "<pad>", "</s>", "<unk>"} {
		special(s, vocab[s])
	}
	for i, code := range m2m100.LanguageCodes() {
		special("__"+code+"__", len(vocab)+i)
	}
	metaspace := map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}
	tok := map[string]any{
		"version":      "1.0",
		"added_tokens": added,
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Precompiled", "precompiled_charsmap": sp.GetNormalizerSpec().GetPrecompiledCharsmap()},
			map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": " {2,}"}, "content": " "},
		}},
		"pre_tokenizer": metaspace,
		"post_processor": map[string]any{
			"type": "TemplateProcessing",
			"single": []any{
				map[string]any{"SpecialToken": map[string]any{"id": "__en__", "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 0}},
			},
			"pair": []any{},
			"special_tokens": map[string]any{
				"__en__": map[string]any{"id": "__en__", "ids": []int{len(vocab) + 18}, "tokens": []string{"__en__"}},
				"</s>":   map[string]any{"id": "</s>", "ids": []int{vocab["</s>"]}, "tokens": []string{"</s>"}},
			},
		},
		"decoder": metaspace,
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": "<unk>", "fuse_unk": true,
			"byte_fallback": false, "vocab": vocab, "merges": merges},
	}
	out, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}
