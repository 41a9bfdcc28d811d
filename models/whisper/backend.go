package whisper

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/audioprep"
	"github.com/edgeinfer/edgeinfer/models/onnxdir"
	"github.com/edgeinfer/edgeinfer/models/seq2seq"
	"github.com/edgeinfer/edgeinfer/tokenize/hf"
)

// Kind is the catalog backend name.
const Kind = "onnx-whisper"

// Scheduler defaults for CPU. A window is 1500 encoder positions; eight
// windows (eight concurrent requests, or one request's fallback retries
// beside others) share an encoder run and every decoder step after it.
const (
	windowPositions              = 1500
	defaultMaxBatchSize          = 8
	defaultMaxQueueDelay         = 5 * time.Millisecond
	defaultMaxConcurrentRequests = 64
	gpuMaxBatchSize              = 32
)

// layout is the hub exports' file layout (onnx-community/whisper-*).
var layout = seq2seq.Layout{
	Fallback: map[string][]string{
		"fp32": {"onnx/encoder_model.onnx", "onnx/decoder_model_merged.onnx"},
		"int8": {"onnx/encoder_model_quantized.onnx", "onnx/decoder_model_merged_quantized.onnx"},
	},
	Companions: []string{"config.json", "generation_config.json", "preprocessor_config.json", "tokenizer.json"},
}

// VADModelID is the directory (under the home's models/) of the Silero VAD
// model vad_filter runs. It is no catalog model: `edgeinfer pull` fetches
// it from vad.HubRepo, `edgeinfer models synth` writes a synthetic one.
const VADModelID = "@edgeinfer/silero-vad"

// Backend loads Whisper models. Recompute turns the key/value cache off,
// for tests that check the cache against recomputation. VADDir overrides
// where vad_filter's Silero model is (default: the home's
// models/@edgeinfer/silero-vad).
type Backend struct {
	Recompute bool
	VADDir    string
}

// Backend is registered as an engine.Backend; the build fails if a method
// goes missing.
var _ engine.Backend = Backend{}

// Check implements engine.Backend.
func (Backend) Check(_ context.Context, spec engine.ModelSpec) (engine.Installation, error) {
	return layout.Check(spec)
}

// Load implements engine.Backend: without a configured variant the CPU
// loads the catalog's default (int8) and a CUDA device fp32, each taking
// the other variant when only that one is installed.
func (b Backend) Load(_ context.Context, spec engine.ModelSpec) (engine.Model, error) {
	files, _, err := layout.Locate(spec)
	if err != nil {
		return nil, err
	}
	m, err := open(spec, files, b.Recompute)
	if err != nil {
		return nil, onnxdir.LoadError(spec, err)
	}
	m.vadDir = b.VADDir
	if m.vadDir == "" {
		m.vadDir = filepath.Join(spec.Paths.Home, "models", filepath.FromSlash(VADModelID))
	}
	return m, nil
}

// open reads the configs and tokenizer, starts the sessions and the
// scheduler.
func open(spec engine.ModelSpec, files seq2seq.Files, recompute bool) (*Model, error) {
	dir := spec.Dir()
	cfg, gen, err := readConfigs(dir)
	if err != nil {
		return nil, err
	}
	pre, err := os.ReadFile(filepath.Join(dir, "preprocessor_config.json"))
	if err != nil {
		return nil, err
	}
	extractor, err := audioprep.ParseWhisperConfig(pre)
	if err != nil {
		return nil, err
	}
	if extractor.Bins() != cfg.NumMelBins {
		return nil, fmt.Errorf("preprocessor_config.json has %d mel bins, config.json num_mel_bins %d", extractor.Bins(), cfg.NumMelBins)
	}
	tok, err := hf.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, err
	}
	vocab, err := loadSpecialTokens(dir, tok)
	if err != nil {
		return nil, err
	}
	codec := textTokenizer{tok: tok, eot: vocab.eot}
	m := &Model{id: spec.Entry.ID, variant: files.Variant, vocab: vocab, gen: gen, codec: codec, extractor: extractor,
		mels: extractor.Bins(), frames: extractor.Frames(), positions: cfg.MaxSourcePositions,
		maxTarget: cfg.MaxTargetPositions, maxSample: spec.Config.MaxLength, recompute: recompute, maxBeams: 10}
	for _, h := range gen.AlignmentHeads {
		m.alignmentHeads = append(m.alignmentHeads, seq2seq.Head{Layer: h[0], Head: h[1]})
	}
	if m.enc, m.dec, err = seq2seq.Open(spec, files, recompute, cfg.VocabSize, cfg.DModel, "input_ids", "encoder_hidden_states"); err != nil {
		return nil, err
	}
	for _, h := range m.alignmentHeads {
		if h.Layer < 0 || h.Layer >= m.dec.Layers || h.Head < 0 || h.Head >= m.dec.Heads {
			m.Close()
			return nil, fmt.Errorf("generation_config.json: alignment head %v is outside %d layers × %d heads", h, m.dec.Layers, m.dec.Heads)
		}
	}
	m.sched = batch.NewStepper(schedulerConfig(spec, m.enc.OnGPU(), m.dec.DModel), func(*windowJob) int { return m.positions }, m.startCohort)
	return m, nil
}

// schedulerConfig applies the model config over the defaults for the
// device: max_batch_size bounds the windows decoding at once; on the CPU
// one encoder run takes at most cpuEncoderWindows(dModel) of them (newer
// windows join the running ones' decoder calls whatever encoder run they
// came from).
func schedulerConfig(spec engine.ModelSpec, onGPU bool, dModel int) batch.StepperConfig {
	size := defaultMaxBatchSize
	if onGPU {
		size = gpuMaxBatchSize
	}
	cfg := batch.StepperConfig{Config: batch.Config{
		Limits:                batch.Limits{MaxBatchTokens: size * windowPositions, MaxBatchSize: size},
		MaxQueueDelay:         defaultMaxQueueDelay,
		MaxConcurrentRequests: defaultMaxConcurrentRequests,
	}.ForModel(spec)}
	cfg.MaxBatchTokens = max(cfg.MaxBatchTokens, windowPositions)
	cfg.MaxLiveItems = cfg.MaxBatchSize
	if !onGPU {
		cfg.MaxBatchSize = min(cfg.MaxBatchSize, cpuEncoderWindows(dModel))
		cfg.MaxBatchTokens = min(cfg.MaxBatchTokens, cfg.MaxBatchSize*windowPositions)
	}
	return cfg
}

// cpuEncoderWindows is how many windows one encoder run takes on the CPU:
// 8 for tiny's 384-wide encoder, fewer as it widens (2 for large's 1280).
// Batching buys a wide encoder little on a CPU, whose cores its matrices
// already fill (turbo at 8 streams: no faster than one), and costs ONNX
// Runtime's arena every window's attention scores (heads × 1500² floats a
// layer, 180 MB a window for large: 9.2 GB peak RSS at 8 streams).
func cpuEncoderWindows(dModel int) int {
	return max(1, min(defaultMaxBatchSize, defaultMaxBatchSize*384/max(dModel, 1)))
}
