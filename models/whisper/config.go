package whisper

import (
	"fmt"

	"github.com/edgeinfer/edgeinfer/models/onnxdir"
)

// modelConfig is what edgeinfer reads from config.json.
type modelConfig struct {
	DModel             int `json:"d_model"`
	VocabSize          int `json:"vocab_size"`
	NumMelBins         int `json:"num_mel_bins"`
	MaxTargetPositions int `json:"max_target_positions"`
	MaxSourcePositions int `json:"max_source_positions"`
}

// generationConfig is what decoding reads from generation_config.json, as
// the hub's Whisper exports write it (the special tokens: tokens.go).
type generationConfig struct {
	SuppressTokens           []int64  `json:"suppress_tokens"`
	BeginSuppressTokens      []int64  `json:"begin_suppress_tokens"`
	MaxInitialTimestampIndex *int     `json:"max_initial_timestamp_index"`
	AlignmentHeads           [][2]int `json:"alignment_heads"`
}

// readConfigs reads config.json and generation_config.json.
func readConfigs(dir string) (modelConfig, generationConfig, error) {
	cfg := modelConfig{MaxTargetPositions: 448, MaxSourcePositions: 1500}
	var gen generationConfig
	if err := onnxdir.ReadJSON(dir, "config.json", &cfg); err != nil {
		return cfg, gen, err
	}
	if err := onnxdir.ReadJSON(dir, "generation_config.json", &gen); err != nil {
		return cfg, gen, err
	}
	if cfg.DModel <= 0 || cfg.VocabSize <= 0 || cfg.NumMelBins <= 0 || cfg.MaxTargetPositions < 8 || cfg.MaxSourcePositions <= 0 {
		return cfg, gen, fmt.Errorf("config.json: d_model %d, vocab_size %d, num_mel_bins %d, max_target_positions %d, max_source_positions %d",
			cfg.DModel, cfg.VocabSize, cfg.NumMelBins, cfg.MaxTargetPositions, cfg.MaxSourcePositions)
	}
	return cfg, gen, nil
}

// suppressed is what SuppressTokens forbids at every step: the config's
// list and the special tokens other than end of text and timestamps.
func suppressed(v *specialTokens, gen generationConfig) []int64 {
	out := []int64{v.transcribe, v.translate, v.sot, v.sotPrev, v.sotLM, v.noSpeech}
	for _, t := range gen.SuppressTokens {
		if t >= 0 {
			out = append(out, t)
		}
	}
	return out
}
