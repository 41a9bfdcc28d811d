package synth

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// bertTokenizerGz is the real bert-base-uncased tokenizer.json (30,522
// WordPiece tokens, the vocabulary BGE-*-en-v1.5 uses); see assets/README.md.
//
//go:embed assets/bert-base-uncased-tokenizer.json.gz
var bertTokenizerGz []byte

// bertMaxLength is BGE's model_max_length, [CLS] and [SEP] included.
const bertMaxLength = 512

// bertConfig is config.json in the key order transformers writes, for BERT
// and XLM-RoBERTa.
type bertConfig struct {
	NameOrPath            string            `json:"_name_or_path"`
	Architectures         []string          `json:"architectures"`
	AttentionDropout      float64           `json:"attention_probs_dropout_prob"`
	BosTokenID            *int              `json:"bos_token_id,omitempty"`
	ClassifierDropout     *float64          `json:"classifier_dropout"`
	EosTokenID            *int              `json:"eos_token_id,omitempty"`
	HiddenAct             string            `json:"hidden_act"`
	HiddenDropout         float64           `json:"hidden_dropout_prob"`
	HiddenSize            int               `json:"hidden_size"`
	ID2Label              map[string]string `json:"id2label,omitempty"`
	InitializerRange      float64           `json:"initializer_range"`
	IntermediateSize      int               `json:"intermediate_size"`
	Label2ID              map[string]int    `json:"label2id,omitempty"`
	LayerNormEps          float64           `json:"layer_norm_eps"`
	MaxPositionEmbeddings int               `json:"max_position_embeddings"`
	ModelType             string            `json:"model_type"`
	NumAttentionHeads     int               `json:"num_attention_heads"`
	NumHiddenLayers       int               `json:"num_hidden_layers"`
	OutputPast            bool              `json:"output_past,omitempty"`
	PadTokenID            int               `json:"pad_token_id"`
	PositionEmbeddingType string            `json:"position_embedding_type"`
	TorchDtype            string            `json:"torch_dtype"`
	TransformersVersion   string            `json:"transformers_version"`
	TypeVocabSize         int               `json:"type_vocab_size"`
	UseCache              bool              `json:"use_cache"`
	VocabSize             int               `json:"vocab_size"`
	Synthetic             bool              `json:"edgeinfer_synthetic"`
}

// writeBGECompanions writes the files beside onnx/ that a BAAI or Xenova
// repository ships (docs/model-files.md §1.2, §1.4, §1.5).
func writeBGECompanions(dir string, v bgeVariant, d BertDims) error {
	cfg := bertConfig{
		NameOrPath: v.upstream, Architectures: []string{"BertModel"},
		AttentionDropout: 0.1, HiddenAct: "gelu", HiddenDropout: 0.1, HiddenSize: d.Hidden,
		ID2Label: map[string]string{"0": "LABEL_0"}, InitializerRange: 0.02,
		IntermediateSize: d.Intermediate, Label2ID: map[string]int{"LABEL_0": 0},
		LayerNormEps: bertLayerNormEps, MaxPositionEmbeddings: d.MaxPositions, ModelType: "bert",
		NumAttentionHeads: d.Heads, NumHiddenLayers: d.Layers, PositionEmbeddingType: "absolute",
		TorchDtype: "float32", TransformersVersion: "4.30.0", TypeVocabSize: d.TypeVocab,
		UseCache: true, VocabSize: d.Vocab, Synthetic: true,
	}
	files := map[string]any{
		"config.json": cfg,
		"tokenizer_config.json": map[string]any{
			"clean_up_tokenization_spaces": true, "cls_token": "[CLS]", "do_basic_tokenize": true,
			"do_lower_case": true, "mask_token": "[MASK]", "model_max_length": bertMaxLength,
			"never_split": nil, "pad_token": "[PAD]", "sep_token": "[SEP]", "strip_accents": nil,
			"tokenize_chinese_chars": true, "tokenizer_class": "BertTokenizer", "unk_token": "[UNK]",
		},
		"special_tokens_map.json": map[string]string{
			"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]",
		},
		"modules.json": []map[string]any{
			{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
			{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
			{"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
		},
		"sentence_bert_config.json": map[string]any{"max_seq_length": bertMaxLength, "do_lower_case": true},
		"1_Pooling/config.json": map[string]any{
			"word_embedding_dimension": d.Hidden, "pooling_mode_cls_token": true,
			"pooling_mode_mean_tokens": false, "pooling_mode_max_tokens": false,
			"pooling_mode_mean_sqrt_len_tokens": false,
		},
	}
	for name, v := range files {
		if err := writeJSONFile(filepath.Join(dir, filepath.FromSlash(name)), v); err != nil {
			return err
		}
	}
	return writeWordPieceTokenizer(dir)
}

// writeWordPieceTokenizer writes the uncased WordPiece tokenizer.json and
// vocab.txt that BGE and DistilBERT share.
func writeWordPieceTokenizer(dir string) error {
	tok, vocab, err := bgeTokenizerFiles()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "vocab.txt"), vocab, 0o644)
}

// bgeTokenizerFiles returns tokenizer.json with BGE's settings and the
// matching vocab.txt (one token per line, in id order).
//
// The embedded file comes from an all-MiniLM export, which pads to a fixed
// 128 and truncates at 128; BGE's own file has no padding and truncates at
// 512. The other sections are kept byte for byte, in their original order.
func bgeTokenizerFiles() (tokenizer, vocab []byte, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(bertTokenizerGz))
	if err != nil {
		return nil, nil, fmt.Errorf("bert tokenizer asset: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, nil, fmt.Errorf("bert tokenizer asset: %w", err)
	}
	var sections map[string]json.RawMessage
	if err := json.Unmarshal(raw, &sections); err != nil {
		return nil, nil, fmt.Errorf("bert tokenizer asset: %w", err)
	}
	sections["padding"] = json.RawMessage("null")
	sections["truncation"] = json.RawMessage(fmt.Sprintf(
		`{"direction": "Right", "max_length": %d, "strategy": "LongestFirst", "stride": 0}`, bertMaxLength))

	var out bytes.Buffer
	out.WriteString("{")
	order := []string{"version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model"}
	for i, key := range order {
		if _, ok := sections[key]; !ok {
			return nil, nil, fmt.Errorf("bert tokenizer asset has no %q section", key)
		}
		if i > 0 {
			out.WriteString(",")
		}
		fmt.Fprintf(&out, "\n  %q: %s", key, sections[key])
	}
	out.WriteString("\n}\n")

	var model struct {
		Vocab map[string]int `json:"vocab"`
	}
	if err := json.Unmarshal(sections["model"], &model); err != nil {
		return nil, nil, fmt.Errorf("bert tokenizer asset: model: %w", err)
	}
	tokens := make([]string, 0, len(model.Vocab))
	for tok := range model.Vocab {
		tokens = append(tokens, tok)
	}
	sort.Slice(tokens, func(i, j int) bool { return model.Vocab[tokens[i]] < model.Vocab[tokens[j]] })
	for i, tok := range tokens {
		if model.Vocab[tok] != i {
			return nil, nil, fmt.Errorf("bert tokenizer asset: vocabulary ids are not 0..%d", len(tokens)-1)
		}
	}
	return out.Bytes(), []byte(strings.Join(tokens, "\n") + "\n"), nil
}
