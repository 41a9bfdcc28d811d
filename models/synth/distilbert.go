package synth

import (
	"context"
	"path/filepath"
	"strconv"
)

// DistilBERTModelID is the sentiment classifier generated in the layout of
// Xenova/distilbert-base-uncased-finetuned-sst-2-english.
const DistilBERTModelID = "@cf/huggingface/distilbert-sst-2-int8"

const distilBERTUpstream = "distilbert-base-uncased-finetuned-sst-2-english"

// distilBERTLabels is SST-2's id2label, in id order.
var distilBERTLabels = []string{"NEGATIVE", "POSITIVE"}

// distilBERTArch is DistilBertForSequenceClassification: no token types,
// positions 0..S-1, BERT's epsilon, the pre_classifier/classifier head.
var distilBERTArch = encoderArch{prefix: "distilbert.", layer: "transformer.layer.%d.", sub: distilBertSublayers,
	padIdx: -1, eps: bertLayerNormEps, head: headDistilBERT, labels: len(distilBERTLabels)}

func init() {
	register(Generator{Model: DistilBERTModelID, Generate: generateDistilBERT})
}

// DistilBERTDims returns the dimensions a preset generates: the real
// distilbert-base (dim 768, 6 layers, 12 heads, hidden_dim 3072) or a tiny
// one with the real vocabulary and a width no BGE model has.
func DistilBERTDims(p Preset) BertDims {
	d := bertDims(768, 6, 12, 3072)
	if p != Full {
		d = bertDims(40, 2, 2, 160)
	}
	d.TypeVocab = 0
	return d
}

func generateDistilBERT(ctx context.Context, dir string, o Options) error {
	d := DistilBERTDims(o.Preset)
	w := newEncoderWeights(newWeightSource(o.Seed, DistilBERTModelID), d, distilBERTArch)
	for _, file := range encoderFiles(o) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := saveEncoder(filepath.Join(dir, filepath.FromSlash(file)), d, distilBERTArch, w, file, "Xenova/"+distilBERTUpstream, false); err != nil {
			return err
		}
	}
	return writeDistilBERTCompanions(dir, d)
}

// distilBERTConfig is a DistilBERT config.json in the key order
// transformers writes.
type distilBERTConfig struct {
	NameOrPath          string            `json:"_name_or_path"`
	Activation          string            `json:"activation"`
	Architectures       []string          `json:"architectures"`
	AttentionDropout    float64           `json:"attention_dropout"`
	Dim                 int               `json:"dim"`
	Dropout             float64           `json:"dropout"`
	FinetuningTask      string            `json:"finetuning_task"`
	HiddenDim           int               `json:"hidden_dim"`
	ID2Label            map[string]string `json:"id2label"`
	InitializerRange    float64           `json:"initializer_range"`
	Label2ID            map[string]int    `json:"label2id"`
	MaxPositions        int               `json:"max_position_embeddings"`
	ModelType           string            `json:"model_type"`
	Heads               int               `json:"n_heads"`
	Layers              int               `json:"n_layers"`
	OutputPast          bool              `json:"output_past"`
	PadTokenID          int               `json:"pad_token_id"`
	QADropout           float64           `json:"qa_dropout"`
	SeqClassifDropout   float64           `json:"seq_classif_dropout"`
	SinusoidalPositions bool              `json:"sinusoidal_pos_embds"`
	TieWeights          bool              `json:"tie_weights_"`
	TransformersVersion string            `json:"transformers_version"`
	VocabSize           int               `json:"vocab_size"`
	Synthetic           bool              `json:"edgeinfer_synthetic"`
}

// writeDistilBERTCompanions writes the files beside onnx/ that the Xenova
// repository ships: config.json, the tokenizer files and vocab.txt.
func writeDistilBERTCompanions(dir string, d BertDims) error {
	id2label, label2id := map[string]string{}, map[string]int{}
	for i, l := range distilBERTLabels {
		id2label[strconv.Itoa(i)] = l
		label2id[l] = i
	}
	files := map[string]any{
		"config.json": distilBERTConfig{
			NameOrPath: distilBERTUpstream, Activation: "gelu", Architectures: []string{"DistilBertForSequenceClassification"},
			AttentionDropout: 0.1, Dim: d.Hidden, Dropout: 0.1, FinetuningTask: "sst-2", HiddenDim: d.Intermediate,
			ID2Label: id2label, InitializerRange: 0.02, Label2ID: label2id, MaxPositions: d.MaxPositions,
			ModelType: "distilbert", Heads: d.Heads, Layers: d.Layers, OutputPast: true, QADropout: 0.1,
			SeqClassifDropout: 0.2, TieWeights: true, TransformersVersion: "4.29.2", VocabSize: d.Vocab, Synthetic: true,
		},
		"tokenizer_config.json": map[string]any{
			"clean_up_tokenization_spaces": true, "cls_token": "[CLS]", "do_lower_case": true, "mask_token": "[MASK]",
			"model_max_length": bertMaxLength, "pad_token": "[PAD]", "sep_token": "[SEP]", "strip_accents": nil,
			"tokenize_chinese_chars": true, "tokenizer_class": "DistilBertTokenizer", "unk_token": "[UNK]",
		},
		"special_tokens_map.json": map[string]string{
			"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]",
		},
	}
	for name, v := range files {
		if err := writeJSONFile(filepath.Join(dir, filepath.FromSlash(name)), v); err != nil {
			return err
		}
	}
	return writeWordPieceTokenizer(dir)
}
