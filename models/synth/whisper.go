package synth

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// The Workers AI speech-recognition models the synthetic Whisper stands in
// for, each with the geometry of the openai checkpoint it maps to.
const (
	// WhisperTinyEnID is openai/whisper-tiny.en (English only).
	WhisperTinyEnID = "@cf/openai/whisper-tiny-en"
	// WhisperLargeV3TurboID is openai/whisper-large-v3-turbo.
	WhisperLargeV3TurboID = "@cf/openai/whisper-large-v3-turbo"
	// WhisperID is @cf/openai/whisper, whose size Cloudflare does not
	// state; edgeinfer maps it to openai/whisper-large-v3.
	WhisperID = "@cf/openai/whisper"
)

// WhisperModelIDs lists the Whisper models `models synth` writes.
var WhisperModelIDs = []string{WhisperID, WhisperLargeV3TurboID, WhisperTinyEnID}

// Whisper file names inside a model directory, as the hub's ONNX exports
// (onnx-community/whisper-*_timestamped) name them: the encoder and the
// merged decoder, in float32 and in int8.
const (
	WhisperEncoderFile          = "onnx/encoder_model.onnx"
	WhisperDecoderFile          = "onnx/decoder_model_merged.onnx"
	WhisperQuantizedEncoderFile = "onnx/encoder_model_quantized.onnx"
	WhisperQuantizedDecoderFile = "onnx/decoder_model_merged_quantized.onnx"
)

// Whisper's fixed input geometry: 30 s of 16 kHz audio is 3000 log-mel
// frames, which the stride-2 convolution halves to 1500 encoder positions;
// the decoder has 448 learned positions.
const (
	WhisperFrames              = 3000
	WhisperSourcePositions     = 1500
	WhisperTargetPositions     = 448
	whisperTransformersVersion = "4.46.0.dev0"
)

// WhisperDims are the architecture dimensions of a generated Whisper.
type WhisperDims struct {
	DModel        int
	Heads         int
	EncoderLayers int
	DecoderLayers int
	FFN           int
	Mels          int
	Vocab         int
}

// HeadDim is the per-head width of queries, keys and values.
func (d WhisperDims) HeadDim() int { return d.DModel / d.Heads }

// whisperModel is what differs between the three checkpoints.
type whisperModel struct {
	id, repo     string // catalog ID, the openai repository it mirrors
	full         WhisperDims
	multilingual bool
	// alignmentHeads are the checkpoint's [layer, head] pairs (OpenAI's
	// _ALIGNMENT_HEADS, as HF's generation_config.json lists them).
	alignmentHeads [][2]int
	// externalData are the fp32 files whose hub export keeps its weights
	// in "<file>_data" (past protobuf's 2 GB): every preset writes them so,
	// so a synthetic directory holds the files the catalog lists.
	externalData []string
}

var whisperModels = []whisperModel{
	{id: WhisperTinyEnID, repo: "openai/whisper-tiny.en",
		full:           WhisperDims{DModel: 384, Heads: 6, EncoderLayers: 4, DecoderLayers: 4, FFN: 1536, Mels: 80, Vocab: 51864},
		alignmentHeads: [][2]int{{1, 0}, {2, 0}, {2, 5}, {3, 0}, {3, 1}, {3, 2}, {3, 3}, {3, 4}}},
	{id: WhisperLargeV3TurboID, repo: "openai/whisper-large-v3-turbo", multilingual: true,
		full:           WhisperDims{DModel: 1280, Heads: 20, EncoderLayers: 32, DecoderLayers: 4, FFN: 5120, Mels: 128, Vocab: 51866},
		alignmentHeads: [][2]int{{2, 4}, {2, 11}, {3, 3}, {3, 6}, {3, 11}, {3, 14}},
		externalData:   []string{WhisperEncoderFile}},
	{id: WhisperID, repo: "openai/whisper-large-v3", multilingual: true,
		full:           WhisperDims{DModel: 1280, Heads: 20, EncoderLayers: 32, DecoderLayers: 32, FFN: 5120, Mels: 128, Vocab: 51866},
		alignmentHeads: [][2]int{{7, 0}, {10, 17}, {12, 18}, {13, 12}, {16, 1}, {17, 14}, {19, 11}, {21, 4}, {24, 1}, {25, 6}},
		externalData:   []string{WhisperEncoderFile, WhisperDecoderFile}},
}

func whisperModelFor(id string) (whisperModel, error) {
	for _, m := range whisperModels {
		if m.id == id {
			return m, nil
		}
	}
	return whisperModel{}, fmt.Errorf("whisper: no model %q (have %v)", id, WhisperModelIDs)
}

// WhisperPresetDims returns the dimensions of model id under preset p:
// full is the real checkpoint's; tiny keeps its mel bins and vocabulary
// (and the fixed 1500/448 positions) with d_model 64, 4 heads and 2+2
// layers.
func WhisperPresetDims(id string, p Preset) (WhisperDims, error) {
	m, err := whisperModelFor(id)
	if err != nil {
		return WhisperDims{}, err
	}
	if p == Full {
		return m.full, nil
	}
	return WhisperDims{DModel: 64, Heads: 4, EncoderLayers: 2, DecoderLayers: 2, FFN: 256, Mels: m.full.Mels, Vocab: m.full.Vocab}, nil
}

func init() {
	for _, m := range whisperModels {
		register(Generator{Model: m.id, Generate: m.generate,
			// large-v3 at full size is about 8 GB of files: written only
			// when asked for by name.
			FullOnlyIfNamed: m.id == WhisperID})
	}
}

func whisperSeed(seed uint64) uint64 {
	if seed == 0 {
		return 0x3a15be7 // default seed; any fixed value keeps runs reproducible
	}
	return seed
}

// generate writes the layout of onnx-community/whisper-*_timestamped:
// configs and tokenizer files at the top, under onnx/ the encoder and the
// merged decoder (with cross-attention outputs) in fp32 and int8, the
// large fp32 graphs with external data as the hub's.
func (m whisperModel) generate(ctx context.Context, dir string, o Options) error {
	d, err := WhisperPresetDims(m.id, o.Preset)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "onnx"), 0o755); err != nil {
		return err
	}
	if err := m.writeConfigs(dir, d, o); err != nil {
		return err
	}
	if err := m.writeTokenizer(dir, o.Preset); err != nil {
		return err
	}
	save := func(model *onnxgraph.Model, file string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		model.ExternalData = slices.Contains(m.externalData, file)
		return model.Save(filepath.Join(dir, filepath.FromSlash(file)))
	}
	// Encoder and decoder weights are drawn separately so a full-size run
	// holds one of them at a time; each fp32 file and its int8 twin share
	// one set. Names differ, so the two sets never overlap.
	seed := whisperSeed(o.Seed)
	ew := newWhisperWeights(d, seed)
	for _, quantized := range []bool{false, true} {
		if err := save(buildWhisperEncoder(ew, quantized), encDecFile("encoder_model", quantized)); err != nil {
			return err
		}
	}
	dw := newWhisperWeights(d, seed)
	for _, quantized := range []bool{false, true} {
		if err := save(buildWhisperDecoder(dw, quantized), encDecFile("decoder_model_merged", quantized)); err != nil {
			return err
		}
	}
	return nil
}
