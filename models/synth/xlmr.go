package synth

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// XLM-RoBERTa constants shared by its models (transformers'
// XLMRobertaConfig as BAAI's checkpoints set it).
const (
	xlmrLayerNormEps = 1e-5
	xlmrPadID        = 1 // <pad>; positions start at xlmrPadID+1
	xlmrVocab        = 250002
)

// Catalog IDs of the XLM-R models generated here.
const (
	RerankerModelID = "@cf/baai/bge-reranker-base"
	BGEM3ModelID    = "@cf/baai/bge-m3"
)

// xlmrVariant is one XLM-R model: a cross-encoder with a one-logit head
// (XLMRobertaForSequenceClassification) or a bare encoder (XLMRobertaModel).
type xlmrVariant struct {
	id, upstream, repo string
	full, tiny         BertDims
	arch               encoderArch
	// maxLength is tokenizer_config.json's model_max_length.
	maxLength int
	// external keeps the fp32 weights in onnx/model.onnx_data, as the
	// Xenova export of a model past 2 GB does.
	external bool
}

// xlmrDims are XLM-R dimensions with its position table: maxLength tokens
// plus the pad offset.
func xlmrDims(hidden, layers, heads, intermediate, maxLength int) BertDims {
	return BertDims{Hidden: hidden, Layers: layers, Heads: heads, Intermediate: intermediate,
		Vocab: xlmrVocab, MaxPositions: maxLength + xlmrPadID + 1, TypeVocab: 1}
}

// xlmrArch is XLM-R with the given parameter prefix and head.
func xlmrArch(prefix string, head encoderHead, labels int) encoderArch {
	return encoderArch{prefix: prefix, layer: "encoder.layer.%d.", sub: bertSublayers, padIdx: xlmrPadID,
		eps: xlmrLayerNormEps, head: head, labels: labels}
}

// The tiny presets keep the real position tables (so the real input limits
// hold) with widths no other synthetic model has.
var xlmrVariants = []xlmrVariant{
	{id: RerankerModelID, upstream: "BAAI/bge-reranker-base", repo: "Xenova/bge-reranker-base",
		full: xlmrDims(768, 12, 12, 3072, 512), tiny: xlmrDims(36, 2, 3, 144, 512),
		arch: xlmrArch("roberta.", headRoBERTa, 1), maxLength: 512},
	{id: BGEM3ModelID, upstream: "BAAI/bge-m3", repo: "Xenova/bge-m3",
		full: xlmrDims(1024, 24, 16, 4096, 8192), tiny: xlmrDims(44, 2, 2, 176, 8192),
		arch: xlmrArch("", headNone, 0), maxLength: 8192, external: true},
}

func init() {
	for _, v := range xlmrVariants {
		register(Generator{Model: v.id, Generate: func(ctx context.Context, dir string, o Options) error {
			return generateXLMR(ctx, dir, v, o)
		}})
	}
}

// XLMRDims returns the dimensions a preset generates for an XLM-R model
// ID; Vocab is the preset's tokenizer size.
func XLMRDims(model string, p Preset) (BertDims, bool) {
	for _, v := range xlmrVariants {
		if v.id != model {
			continue
		}
		d := v.tiny
		if p == Full {
			d = v.full
		}
		d.Vocab = xlmrVocabSize(p)
		return d, true
	}
	return BertDims{}, false
}

// BGEM3DataFile is the external data of bge-m3's fp32 graph.
const BGEM3DataFile = BGEModelFile + "_data"

func generateXLMR(ctx context.Context, dir string, v xlmrVariant, o Options) error {
	d, _ := XLMRDims(v.id, o.Preset)
	tok, err := XLMRTokenizerJSON(o.Preset)
	if err != nil {
		return err
	}
	w := newEncoderWeights(newWeightSource(o.Seed, v.id), d, v.arch)
	for _, file := range encoderFiles(o) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := saveEncoder(filepath.Join(dir, filepath.FromSlash(file)), d, v.arch, w, file, v.repo, v.external); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644); err != nil {
		return err
	}
	return writeXLMRCompanions(dir, v, d)
}

// writeXLMRCompanions writes config.json, tokenizer_config.json and
// special_tokens_map.json as the BAAI/Xenova repositories have them.
func writeXLMRCompanions(dir string, v xlmrVariant, d BertDims) error {
	bos, eos := 0, 2
	cfg := bertConfig{
		NameOrPath: v.upstream, AttentionDropout: 0.1, BosTokenID: &bos, EosTokenID: &eos, HiddenAct: "gelu",
		HiddenDropout: 0.1, HiddenSize: d.Hidden, InitializerRange: 0.02, IntermediateSize: d.Intermediate,
		LayerNormEps: xlmrLayerNormEps, MaxPositionEmbeddings: d.MaxPositions, ModelType: "xlm-roberta",
		NumAttentionHeads: d.Heads, NumHiddenLayers: d.Layers, OutputPast: true, PadTokenID: xlmrPadID,
		PositionEmbeddingType: "absolute", TorchDtype: "float32", TransformersVersion: "4.33.0",
		TypeVocabSize: d.TypeVocab, UseCache: true, VocabSize: d.Vocab, Synthetic: true,
	}
	if v.arch.head == headNone {
		cfg.Architectures = []string{"XLMRobertaModel"}
	} else {
		cfg.Architectures = []string{"XLMRobertaForSequenceClassification"}
		cfg.ID2Label, cfg.Label2ID = map[string]string{"0": "LABEL_0"}, map[string]int{"LABEL_0": 0}
	}
	if err := writeJSONFile(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	for name, b := range map[string][]byte{
		"tokenizer_config.json":   XLMRTokenizerConfigJSON(v.maxLength),
		"special_tokens_map.json": XLMRSpecialTokensMapJSON(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// xlmrVocabSize is the number of pieces of the preset's tokenizer.
func xlmrVocabSize(p Preset) int {
	v, err := xlmrPieces(p)
	if err != nil {
		panic(fmt.Sprintf("synth: XLM-R tokenizer: %v", err)) // presets are constants: a bug
	}
	return len(v)
}
