package synth

import (
	"context"
	"path/filepath"
	"slices"
)

// bgeVariant is one BGE model: full = the real dims (docs/model-files.md §1.1);
// tiny keeps the real vocabulary, so tokenization is the real one, with a
// hidden size of its own so a mixed-up model is caught by its width.
type bgeVariant struct {
	id, upstream string
	full, tiny   BertDims
}

var bgeVariants = []bgeVariant{
	{"@cf/baai/bge-small-en-v1.5", "BAAI/bge-small-en-v1.5", bertDims(384, 12, 12, 1536), bertDims(32, 2, 2, 128)},
	{"@cf/baai/bge-base-en-v1.5", "BAAI/bge-base-en-v1.5", bertDims(768, 12, 12, 3072), bertDims(48, 2, 3, 192)},
	{"@cf/baai/bge-large-en-v1.5", "BAAI/bge-large-en-v1.5", bertDims(1024, 24, 16, 4096), bertDims(64, 2, 4, 256)},
}

// bgeAliases are catalog IDs served on another BGE model's files, which
// their generators write byte for byte.
var bgeAliases = map[string]string{
	"@cf/baai/omni-bge-base-en-v1.5": "@cf/baai/bge-base-en-v1.5",
}

func init() {
	for _, v := range bgeVariants {
		register(Generator{Model: v.id, Generate: func(ctx context.Context, dir string, o Options) error {
			return generateBGE(ctx, dir, v, o)
		}})
	}
	for alias, model := range bgeAliases {
		i := slices.IndexFunc(bgeVariants, func(v bgeVariant) bool { return v.id == model })
		register(Generator{Model: alias, Generate: func(ctx context.Context, dir string, o Options) error {
			return generateBGE(ctx, dir, bgeVariants[i], o)
		}})
	}
}

// BGEDims returns the dimensions a preset generates for a BGE model ID (or
// an alias of one).
func BGEDims(model string, p Preset) (BertDims, bool) {
	if m, ok := bgeAliases[model]; ok {
		model = m
	}
	for _, v := range bgeVariants {
		if v.id == model {
			if p == Full {
				return v.full, true
			}
			return v.tiny, true
		}
	}
	return BertDims{}, false
}

// File names inside a model directory, in the Xenova/optimum layout that
// every encoder this package writes shares (BGE, DistilBERT, XLM-R).
const (
	BGEModelFile          = "onnx/model.onnx"
	BGEQuantizedModelFile = "onnx/model_quantized.onnx"
	BGEFloat16ModelFile   = "onnx/model_fp16.onnx"
)

func generateBGE(ctx context.Context, dir string, v bgeVariant, o Options) error {
	d, _ := BGEDims(v.id, o.Preset)
	w := newEncoderWeights(newWeightSource(o.Seed, v.id), d, bertArch)
	for _, file := range encoderFiles(o) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := saveEncoder(filepath.Join(dir, filepath.FromSlash(file)), d, bertArch, w, file, v.upstream, false); err != nil {
			return err
		}
	}
	if v.id == bgeOllamaModel {
		if err := writeBGEOllama(ctx, dir, v, d, w); err != nil {
			return err
		}
	}
	return writeBGECompanions(dir, v, d)
}
