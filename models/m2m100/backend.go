// Package m2m100 serves M2M100 translation (@cf/meta/m2m100-1.2b) on ONNX
// Runtime from optimum's export: SentencePiece tokenization through
// vocab.json, the encoder once per request, then decoder steps with the
// key/value cache (the merged decoder, or the decoder_model +
// decoder_with_past pair), greedy or beam search as Hugging Face runs them,
// and requests batched in cohorts by an engine/batch Stepper.
package m2m100

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/seq2seq"
)

// Kind is the catalog backend name.
const Kind = "onnx-m2m100"

// Scheduler defaults for CPU. A decoder step reads every decoder weight
// whatever the batch, so steps shared by more rows are nearly free until
// the rows' matrix products dominate; 16 requests (80 rows at 5 beams)
// keep the key/value caches of a 418M model under ~3 GB at 200 tokens.
const (
	defaultMaxBatchSize          = 16
	defaultMaxBatchTokens        = 8192
	defaultMaxQueueDelay         = 5 * time.Millisecond
	defaultMaxConcurrentRequests = 256
)

// Scheduler defaults on a GPU: twice the requests decoding at once and
// twice the encoder budget. The key/value caches live in host memory and
// cross to the device every step, so a step's cost grows with its rows
// sooner than on a CPU; 32 requests keep 160 rows at 5 beams.
const (
	gpuMaxBatchSize   = 32
	gpuMaxBatchTokens = 16384
)

// fallbackVariants are optimum's file names, for models the catalog does
// not describe.
var fallbackVariants = map[string][]string{
	"fp32": {"onnx/encoder_model.onnx", "onnx/decoder_model_merged.onnx"},
	"int8": {"onnx/encoder_model_quantized.onnx", "onnx/decoder_model_merged_quantized.onnx"},
}

// tokenizerFiles are read besides the weights.
var tokenizerFiles = []string{"config.json", "sentencepiece.bpe.model", "vocab.json"}

// Backend loads M2M100 models. Recompute turns the key/value cache off:
// every step then runs the decoder over the whole prefix. It exists for
// tests and benchmarks that measure the cache against recomputation.
type Backend struct {
	Recompute bool
}

// Backend is registered as an engine.Backend; the build fails if a method
// goes missing.
var _ engine.Backend = Backend{}

// layout is M2M100's file layout.
var layout = seq2seq.Layout{Fallback: fallbackVariants, Companions: tokenizerFiles}

// locate picks the variant to serve and its files (see seq2seq.Layout.Locate).
func locate(spec engine.ModelSpec) (seq2seq.Files, []string, error) { return layout.Locate(spec) }

// Check implements engine.Backend.
func (Backend) Check(_ context.Context, spec engine.ModelSpec) (engine.Installation, error) {
	return layout.Check(spec)
}

// modelConfig is what edgeinfer reads from config.json, and the generation
// keys of generation_config.json, which take precedence.
type modelConfig struct {
	DModel                int             `json:"d_model"`
	VocabSize             int             `json:"vocab_size"`
	MaxPositionEmbeddings int             `json:"max_position_embeddings"`
	DecoderStartTokenID   *int64          `json:"decoder_start_token_id"`
	EOSTokenID            *int64          `json:"eos_token_id"`
	PadTokenID            *int64          `json:"pad_token_id"`
	ForcedEOSTokenID      *int64          `json:"forced_eos_token_id"`
	NumBeams              *int            `json:"num_beams"`
	MaxLength             *int            `json:"max_length"`
	EarlyStopping         json.RawMessage `json:"early_stopping"`
	LengthPenalty         *float64        `json:"length_penalty"`
}

// merge overlays the keys set in g.
func (c *modelConfig) merge(g modelConfig) {
	if g.DecoderStartTokenID != nil {
		c.DecoderStartTokenID = g.DecoderStartTokenID
	}
	if g.EOSTokenID != nil {
		c.EOSTokenID = g.EOSTokenID
	}
	if g.PadTokenID != nil {
		c.PadTokenID = g.PadTokenID
	}
	if g.ForcedEOSTokenID != nil {
		c.ForcedEOSTokenID = g.ForcedEOSTokenID
	}
	if g.NumBeams != nil {
		c.NumBeams = g.NumBeams
	}
	if g.MaxLength != nil {
		c.MaxLength = g.MaxLength
	}
	if g.EarlyStopping != nil {
		c.EarlyStopping = g.EarlyStopping
	}
	if g.LengthPenalty != nil {
		c.LengthPenalty = g.LengthPenalty
	}
}

// Load implements engine.Backend. Without a configured variant the CPU
// loads the catalog's default and a CUDA device fp32, each taking the other
// variant when only that one is installed (see locate).
func (b Backend) Load(_ context.Context, spec engine.ModelSpec) (engine.Model, error) {
	files, _, err := locate(spec)
	if err != nil {
		return nil, err
	}
	dir := spec.Dir()
	var cfg, gen modelConfig
	if err := onnxdir.ReadJSON(dir, "config.json", &cfg); err != nil {
		return nil, onnxdir.LoadError(spec, err)
	}
	if err := onnxdir.ReadJSON(dir, "generation_config.json", &gen); err != nil && !os.IsNotExist(err) {
		return nil, onnxdir.LoadError(spec, err)
	}
	cfg.merge(gen)
	var tokCfg struct {
		ModelMaxLength int `json:"model_max_length"`
	}
	_ = onnxdir.ReadJSON(dir, "tokenizer_config.json", &tokCfg) // optional
	tok, err := loadTokenizer(dir, cfg.VocabSize)
	if err != nil {
		return nil, onnxdir.LoadError(spec, err)
	}
	m, err := open(spec, b.Recompute, files, cfg, tokCfg.ModelMaxLength, tok)
	if err != nil {
		return nil, onnxdir.LoadError(spec, err)
	}
	return m, nil
}

// open starts the sessions and the scheduler.
func open(spec engine.ModelSpec, recompute bool, files seq2seq.Files, cfg modelConfig, modelMaxLength int, tok *tokenizer) (*Model, error) {
	search, err := searchSettings(cfg, spec.Config)
	if err != nil {
		return nil, err
	}
	if cfg.DModel <= 0 {
		return nil, fmt.Errorf("config.json has no d_model")
	}
	m := &Model{id: spec.Entry.ID, variant: files.Variant, tok: tok, search: search, recompute: recompute,
		decoderStart: 2, pad: 1, maxInputTokens: 1024}
	if cfg.DecoderStartTokenID != nil {
		m.decoderStart = *cfg.DecoderStartTokenID
	}
	if cfg.PadTokenID != nil {
		m.pad = *cfg.PadTokenID
	}
	for _, limit := range []int{cfg.MaxPositionEmbeddings, modelMaxLength} {
		if limit > 0 && limit < m.maxInputTokens {
			m.maxInputTokens = limit
		}
	}
	if m.enc, m.dec, err = seq2seq.Open(spec, files, recompute, cfg.VocabSize, cfg.DModel, "input_ids", "encoder_attention_mask"); err != nil {
		return nil, err
	}
	spec = m.calibrated(spec, sessionPaths(append([]*ort.Session{m.enc}, m.dec.Sessions()...)...))
	m.sched = batch.NewStepper(schedulerConfig(spec, m.enc.OnGPU()), func(j job) int { return len(j.src) }, m.startCohort)
	return m, nil
}

// searchSettings applies the model config (num_beams, max_length) over
// generation_config.json over config.json.
func searchSettings(cfg modelConfig, mc engine.ModelConfig) (seq2seq.SearchConfig, error) {
	s := seq2seq.SearchConfig{NumBeams: 1, MaxLength: 20, LengthPenalty: 1, EOS: 2, ForcedEOS: -1, Early: seq2seq.EarlyStopFalse}
	if cfg.NumBeams != nil {
		s.NumBeams = *cfg.NumBeams
	}
	if cfg.MaxLength != nil {
		s.MaxLength = *cfg.MaxLength
	}
	if cfg.LengthPenalty != nil {
		s.LengthPenalty = *cfg.LengthPenalty
	}
	if cfg.EOSTokenID != nil {
		s.EOS = *cfg.EOSTokenID
	}
	if cfg.ForcedEOSTokenID != nil {
		s.ForcedEOS = *cfg.ForcedEOSTokenID
	}
	switch strings.TrimSpace(string(cfg.EarlyStopping)) {
	case "", "false", "null":
	case "true":
		s.Early = seq2seq.EarlyStopTrue
	case `"never"`:
		s.Early = seq2seq.EarlyStopNever
	default:
		return s, fmt.Errorf("early_stopping %s is not true, false or \"never\"", cfg.EarlyStopping)
	}
	if mc.NumBeams > 0 {
		s.NumBeams = mc.NumBeams
	}
	if mc.MaxLength > 0 {
		s.MaxLength = mc.MaxLength
	}
	if s.NumBeams < 1 || s.MaxLength < 1 {
		return s, fmt.Errorf("num_beams %d and max_length %d must be positive", s.NumBeams, s.MaxLength)
	}
	return s, nil
}

// schedulerConfig applies the model config over the defaults for the
// device: max_batch_size bounds the requests decoding at once,
// max_batch_tokens the source tokens of one encoder batch.
func schedulerConfig(spec engine.ModelSpec, onGPU bool) batch.StepperConfig {
	limits := batch.Limits{MaxBatchTokens: defaultMaxBatchTokens, MaxBatchSize: defaultMaxBatchSize}
	if onGPU {
		limits = batch.Limits{MaxBatchTokens: gpuMaxBatchTokens, MaxBatchSize: gpuMaxBatchSize}
	}
	cfg := batch.StepperConfig{Config: batch.Config{
		Limits:                limits,
		MaxQueueDelay:         defaultMaxQueueDelay,
		MaxConcurrentRequests: defaultMaxConcurrentRequests,
	}.ForModel(spec)}
	cfg.MaxLiveItems = cfg.MaxBatchSize
	return cfg
}
