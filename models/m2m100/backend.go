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
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/ort"
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

// modelFiles is what a model directory provides: the encoder and either
// the merged decoder or the pair.
type modelFiles struct {
	variant                          string
	encoder, merged, first, withPast string // paths relative to the model dir; "" if absent
}

// locate picks the variant to serve and its files. A configured variant
// (models.<id>.variant) is served as configured. Otherwise the device's
// default serves (ModelSpec.Variant: the catalog's int8 on the CPU, fp32 on
// a CUDA device, which `edgeinfer pull` fetches too). When the preferred
// variant's files are absent and the other's are present, the other one
// serves, so a directory pulled or synthesized with either works on both
// devices.
func locate(spec engine.ModelSpec) (modelFiles, []string, error) {
	if spec.Config.Variant != "" {
		return locateVariant(spec)
	}
	preferred, other := spec.Variant(), spec.Entry.Artifacts.DefaultVariant
	if other == "" || other == preferred {
		other = "fp32"
	}
	files, need, err := locateVariant(withVariant(spec, preferred))
	if err != nil || preferred == other || installed(spec, need) {
		return files, need, err
	}
	if alt, altNeed, altErr := locateVariant(withVariant(spec, other)); altErr == nil && installed(spec, altNeed) {
		return alt, altNeed, nil
	}
	return files, need, err // reported missing by Inspect
}

func withVariant(spec engine.ModelSpec, variant string) engine.ModelSpec {
	spec.Config.Variant = variant
	return spec
}

// installed reports whether every file in files is in the model directory.
func installed(spec engine.ModelSpec, files []string) bool {
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(spec.Dir(), filepath.FromSlash(f))); err != nil {
			return false
		}
	}
	return true
}

// locateVariant picks the files of spec's variant. The catalog names the
// merged decoder; when it is absent, decoder_model + decoder_with_past_model
// of the same variant serve instead.
func locateVariant(spec engine.ModelSpec) (modelFiles, []string, error) {
	weights, err := onnxdir.VariantFiles(spec, fallbackVariants)
	if err != nil {
		return modelFiles{}, nil, err
	}
	f := modelFiles{variant: spec.Variant()}
	for _, w := range weights {
		switch base := filepath.Base(w); {
		case strings.HasPrefix(base, "encoder_model"):
			f.encoder = w
		case strings.HasPrefix(base, "decoder_model_merged"):
			f.merged = w
		}
	}
	if f.encoder == "" || f.merged == "" {
		return modelFiles{}, nil, &engine.Error{Kind: engine.KindNotInstalled,
			Message: fmt.Sprintf("Model %s: variant %q does not list an encoder_model and a decoder_model_merged file", spec.Entry.ID, spec.Variant())}
	}
	need := append(append([]string{}, tokenizerFiles...), f.encoder)
	suffix := strings.TrimPrefix(filepath.Base(f.merged), "decoder_model_merged")
	pairFirst := filepath.ToSlash(filepath.Join(filepath.Dir(f.merged), "decoder_model"+suffix))
	pairPast := filepath.ToSlash(filepath.Join(filepath.Dir(f.merged), "decoder_with_past_model"+suffix))
	dir := spec.Dir()
	exists := func(rel string) bool {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
		return err == nil
	}
	if exists(pairFirst) {
		f.first = pairFirst
	}
	switch {
	case exists(f.merged):
		need = append(need, f.merged)
	case f.first != "" && exists(pairPast):
		f.merged, f.withPast = "", pairPast
		need = append(need, f.first, f.withPast)
	default:
		need = append(need, f.merged) // reported missing by Inspect
	}
	return f, need, nil
}

// Check implements engine.Backend.
func (Backend) Check(_ context.Context, spec engine.ModelSpec) (engine.Installation, error) {
	_, need, err := locate(spec)
	if err != nil {
		return engine.Installation{}, err
	}
	return onnxdir.Inspect(spec, need)
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
func open(spec engine.ModelSpec, recompute bool, files modelFiles, cfg modelConfig, modelMaxLength int, tok *tokenizer) (*Model, error) {
	search, err := searchSettings(cfg, spec.Config)
	if err != nil {
		return nil, err
	}
	if cfg.DModel <= 0 {
		return nil, fmt.Errorf("config.json has no d_model")
	}
	m := &Model{id: spec.Entry.ID, variant: files.variant, tok: tok, search: search, recompute: recompute,
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
	dir, opts := spec.Dir(), onnxdir.SessionOptions(spec.Config)
	openFile := func(rel string) (*ort.Session, error) {
		if rel == "" {
			return nil, nil
		}
		return ort.Open(filepath.Join(dir, filepath.FromSlash(rel)), opts)
	}
	m.dec = &decoderFiles{vocab: cfg.VocabSize, dModel: cfg.DModel}
	fail := func(err error) (*Model, error) {
		m.dec.close()
		if m.enc != nil {
			m.enc.Close()
		}
		return nil, err
	}
	if m.enc, err = openFile(files.encoder); err != nil {
		return fail(err)
	}
	// Cached decoding uses the merged file, else the pair; recomputation
	// only a decoder that runs without a past.
	type toOpen struct {
		dst **ort.Session
		rel string
	}
	var sessions []toOpen
	switch {
	case recompute && files.first != "":
		sessions = []toOpen{{&m.dec.first, files.first}}
	case recompute || files.merged != "":
		sessions = []toOpen{{&m.dec.merged, files.merged}}
	default:
		sessions = []toOpen{{&m.dec.first, files.first}, {&m.dec.withPast, files.withPast}}
	}
	for _, f := range sessions {
		if *f.dst, err = openFile(f.rel); err != nil {
			return fail(err)
		}
	}
	if err := m.dec.inspect(); err != nil {
		return fail(err)
	}
	if m.enc.OutputIndex("last_hidden_state") < 0 {
		return fail(fmt.Errorf("%s declares no last_hidden_state output", m.enc.Path()))
	}
	if err := float32Only(m.enc, m.dec.merged, m.dec.first, m.dec.withPast); err != nil {
		return fail(err)
	}
	spec = m.calibrated(spec, sessionPaths(m.enc, m.dec.merged, m.dec.first, m.dec.withPast))
	m.sched = batch.NewStepper(schedulerConfig(spec, m.enc.OnGPU()), func(j job) int { return len(j.src) }, m.startCohort)
	return m, nil
}

// float32Only refuses a half-precision export: the search keeps logits and
// key/value caches as float32 in Go memory. (The catalog offers no fp16
// translation variant; this catches one put in place of another.)
func float32Only(sessions ...*ort.Session) error {
	for _, s := range sessions {
		if s == nil {
			continue
		}
		for _, info := range slices.Concat(s.Inputs(), s.Outputs()) {
			if info.Type == ort.Float16 {
				return fmt.Errorf("%s: %s is float16; translation runs float32 exports only (use the fp32 or int8 variant)", s.Path(), info.Name)
			}
		}
	}
	return nil
}

// searchSettings applies the model config (num_beams, max_length) over
// generation_config.json over config.json.
func searchSettings(cfg modelConfig, mc engine.ModelConfig) (searchConfig, error) {
	s := searchConfig{numBeams: 1, maxLength: 20, lengthPenalty: 1, eos: 2, forcedEOS: -1, early: earlyStopFalse}
	if cfg.NumBeams != nil {
		s.numBeams = *cfg.NumBeams
	}
	if cfg.MaxLength != nil {
		s.maxLength = *cfg.MaxLength
	}
	if cfg.LengthPenalty != nil {
		s.lengthPenalty = *cfg.LengthPenalty
	}
	if cfg.EOSTokenID != nil {
		s.eos = *cfg.EOSTokenID
	}
	if cfg.ForcedEOSTokenID != nil {
		s.forcedEOS = *cfg.ForcedEOSTokenID
	}
	switch strings.TrimSpace(string(cfg.EarlyStopping)) {
	case "", "false", "null":
	case "true":
		s.early = earlyStopTrue
	case `"never"`:
		s.early = earlyStopNever
	default:
		return s, fmt.Errorf("early_stopping %s is not true, false or \"never\"", cfg.EarlyStopping)
	}
	if mc.NumBeams > 0 {
		s.numBeams = mc.NumBeams
	}
	if mc.MaxLength > 0 {
		s.maxLength = mc.MaxLength
	}
	if s.numBeams < 1 || s.maxLength < 1 {
		return s, fmt.Errorf("num_beams %d and max_length %d must be positive", s.numBeams, s.maxLength)
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
