package whisper

import (
	"fmt"
	"os"
	"sort"
	"strings"

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

// generationConfig is what edgeinfer reads from generation_config.json, as
// the hub's Whisper exports write it.
type generationConfig struct {
	DecoderStartTokenID      int64            `json:"decoder_start_token_id"`
	EOSTokenID               int64            `json:"eos_token_id"`
	NoTimestampsTokenID      int64            `json:"no_timestamps_token_id"`
	IsMultilingual           bool             `json:"is_multilingual"`
	LangToID                 map[string]int64 `json:"lang_to_id"`
	TaskToID                 map[string]int64 `json:"task_to_id"`
	SuppressTokens           []int64          `json:"suppress_tokens"`
	BeginSuppressTokens      []int64          `json:"begin_suppress_tokens"`
	MaxInitialTimestampIndex *int             `json:"max_initial_timestamp_index"`
	AlignmentHeads           [][2]int         `json:"alignment_heads"`
}

// language is one language token: its code ("en") and id.
type language struct {
	code string
	id   int64
}

// vocabulary is the model's special tokens and languages.
type vocabulary struct {
	sot, eot, transcribe, translate, noTimestamps, noSpeech, sotPrev, sotLM int64
	timestampBegin                                                          int64
	multilingual                                                            bool
	languages                                                               []language // in id order
	byCode                                                                  map[string]int64
}

// readConfigs reads config.json and generation_config.json and derives the
// special tokens: Whisper's vocabularies place <|translate|>,
// <|transcribe|>, <|startoflm|>, <|startofprev|> and <|nospeech|> (or
// <|nocaptions|>) just before <|notimestamps|>, and the timestamps just
// after it.
func readConfigs(dir string) (modelConfig, generationConfig, *vocabulary, error) {
	cfg := modelConfig{MaxTargetPositions: 448, MaxSourcePositions: 1500}
	var gen generationConfig
	if err := onnxdir.ReadJSON(dir, "config.json", &cfg); err != nil {
		return cfg, gen, nil, err
	}
	if err := onnxdir.ReadJSON(dir, "generation_config.json", &gen); err != nil {
		if os.IsNotExist(err) {
			return cfg, gen, nil, fmt.Errorf("generation_config.json is missing: it holds Whisper's special tokens")
		}
		return cfg, gen, nil, err
	}
	if cfg.DModel <= 0 || cfg.VocabSize <= 0 || cfg.NumMelBins <= 0 || cfg.MaxTargetPositions < 8 || cfg.MaxSourcePositions <= 0 {
		return cfg, gen, nil, fmt.Errorf("config.json: d_model %d, vocab_size %d, num_mel_bins %d, max_target_positions %d, max_source_positions %d",
			cfg.DModel, cfg.VocabSize, cfg.NumMelBins, cfg.MaxTargetPositions, cfg.MaxSourcePositions)
	}
	nt := gen.NoTimestampsTokenID
	v := &vocabulary{sot: gen.DecoderStartTokenID, eot: gen.EOSTokenID, noTimestamps: nt,
		noSpeech: nt - 1, sotPrev: nt - 2, sotLM: nt - 3, transcribe: nt - 4, translate: nt - 5,
		timestampBegin: nt + 1, multilingual: gen.IsMultilingual, byCode: map[string]int64{}}
	if id, ok := gen.TaskToID["transcribe"]; ok {
		v.transcribe = id
	}
	if id, ok := gen.TaskToID["translate"]; ok {
		v.translate = id
	}
	if nt <= v.eot || v.sot <= 0 || int(v.timestampBegin) >= cfg.VocabSize {
		return cfg, gen, nil, fmt.Errorf("generation_config.json: decoder_start_token_id %d, eos_token_id %d, no_timestamps_token_id %d do not fit a vocabulary of %d",
			v.sot, v.eot, nt, cfg.VocabSize)
	}
	for tok, id := range gen.LangToID {
		code := strings.TrimSuffix(strings.TrimPrefix(tok, "<|"), "|>")
		v.languages = append(v.languages, language{code: code, id: id})
		v.byCode[code] = id
	}
	sort.Slice(v.languages, func(i, j int) bool { return v.languages[i].id < v.languages[j].id })
	if v.multilingual && len(v.languages) == 0 {
		return cfg, gen, nil, fmt.Errorf("generation_config.json: a multilingual model without lang_to_id")
	}
	return cfg, gen, v, nil
}

// codes lists the language codes, for error messages.
func (v *vocabulary) codes() string {
	codes := make([]string, len(v.languages))
	for i, l := range v.languages {
		codes[i] = l.code
	}
	sort.Strings(codes)
	return strings.Join(codes, ", ")
}

// suppressed is what SuppressTokens forbids at every step: the config's
// list and the special tokens other than end of text and timestamps.
func (v *vocabulary) suppressed(gen generationConfig) []int64 {
	out := []int64{v.transcribe, v.translate, v.sot, v.sotPrev, v.sotLM, v.noSpeech}
	for _, t := range gen.SuppressTokens {
		if t >= 0 {
			out = append(out, t)
		}
	}
	return out
}
