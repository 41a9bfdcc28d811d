package onnxdir

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/ort"
)

// TextConfig is what a text encoder reads from config.json and
// tokenizer_config.json.
type TextConfig struct {
	HiddenSize            int `json:"hidden_size"`
	MaxPositionEmbeddings int `json:"max_position_embeddings"`
	ModelMaxLength        int `json:"model_max_length"`
}

// TextFiles are the files of a text encoder's variant: config.json,
// tokenizer.json and the variant's graph (and external data).
func TextFiles(spec engine.ModelSpec, fallback map[string][]string) ([]string, error) {
	weights, err := VariantFiles(spec, fallback)
	if err != nil {
		return nil, err
	}
	return append([]string{"config.json", "tokenizer.json"}, weights...), nil
}

// CheckText is a text encoder's engine.Backend Check.
func CheckText(_ context.Context, spec engine.ModelSpec, fallback map[string][]string) (engine.Installation, error) {
	fs, err := TextFiles(spec, fallback)
	if err != nil {
		return engine.Installation{}, err
	}
	return Inspect(spec, fs)
}

// OpenText reads a text encoder's directory for its Load: the configs
// (tokenizer_config.json is optional), the tokenizer through load, and a
// session on the variant's .onnx file (its external data is found beside
// it). Errors are LoadErrors; nothing stays open on one.
func OpenText[T any](spec engine.ModelSpec, fallback map[string][]string, load func(path string) (T, error)) (tok T, sess *ort.Session, cfg, tokCfg TextConfig, err error) {
	fs, err := TextFiles(spec, fallback)
	if err != nil {
		return tok, nil, cfg, tokCfg, err
	}
	graph := ""
	for _, f := range fs {
		if strings.HasSuffix(f, ".onnx") {
			graph = f
		}
	}
	if graph == "" {
		return tok, nil, cfg, tokCfg, LoadError(spec, fmt.Errorf("variant %q lists no .onnx file", spec.Variant()))
	}
	dir := spec.Dir()
	if err := ReadJSON(dir, "config.json", &cfg); err != nil {
		return tok, nil, cfg, tokCfg, LoadError(spec, err)
	}
	_ = ReadJSON(dir, "tokenizer_config.json", &tokCfg) // optional
	if tok, err = load(filepath.Join(dir, "tokenizer.json")); err != nil {
		return tok, nil, cfg, tokCfg, LoadError(spec, err)
	}
	if sess, err = ort.Open(filepath.Join(dir, filepath.FromSlash(graph)), SessionOptions(spec.Config)); err != nil {
		return tok, nil, cfg, tokCfg, LoadError(spec, err)
	}
	return tok, sess, cfg, tokCfg, nil
}

// PadRight lays a batch out row by row, each sequence padded on the right
// with pad to the longest, and its attention mask (1 on real tokens); ids
// and mask are reused when they are large enough. cols is the row length.
func PadRight(seqs [][]int64, pad int64, ids, mask []int64) (idsOut, maskOut []int64, cols int) {
	for _, s := range seqs {
		cols = max(cols, len(s))
	}
	n := len(seqs) * cols
	if cap(ids) < n {
		ids = make([]int64, n)
	}
	if cap(mask) < n {
		mask = make([]int64, n)
	}
	ids, mask = ids[:n], mask[:n]
	for r, s := range seqs {
		row, m := ids[r*cols:(r+1)*cols], mask[r*cols:(r+1)*cols]
		copy(row, s)
		for c := range row {
			if c >= len(s) {
				row[c], m[c] = pad, 0
			} else {
				m[c] = 1
			}
		}
	}
	return ids, mask, cols
}
