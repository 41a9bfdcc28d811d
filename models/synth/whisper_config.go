package synth

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/edgeinfer/edgeinfer/engine"
)

// whisperTimestamps is the number of timestamp tokens <|0.00|>…<|30.00|>.
const whisperTimestamps = 1501

// whisperSpecial are the special-token IDs of one vocabulary. They follow
// from where <|endoftext|> sits and how many languages the model has:
// <|endoftext|>, <|startoftranscript|>, the languages, <|translate|>,
// <|transcribe|>, <|startoflm|>, <|startofprev|>, <|nocaptions|> (or
// <|nospeech|>), <|notimestamps|>, then the timestamps.
type whisperSpecial struct {
	eot, sot, firstLanguage, languages, translate, transcribe, sotLM, sotPrev, noSpeech, noTimestamps, timestampBegin int
}

func newWhisperSpecial(multilingual bool) whisperSpecial {
	s := whisperSpecial{eot: 50256, languages: 99}
	if multilingual {
		s = whisperSpecial{eot: 50257, languages: 100}
	}
	s.sot = s.eot + 1
	s.firstLanguage = s.sot + 1
	s.translate = s.firstLanguage + s.languages
	s.transcribe, s.sotLM, s.sotPrev, s.noSpeech, s.noTimestamps = s.translate+1, s.translate+2, s.translate+3, s.translate+4, s.translate+5
	s.timestampBegin = s.noTimestamps + 1
	return s
}

// vocab is the embedding size: the last timestamp's ID + 1.
func (s whisperSpecial) vocab() int { return s.timestampBegin + whisperTimestamps }

// suppressTokens are generation_config.json's suppress_tokens, openai
// whisper's non-speech symbols in each vocabulary (transformers'
// NON_SPEECH_TOKENS / NON_SPEECH_TOKENS_MULTI) plus the special tokens the
// hub files add: English-only ends with <|endoftext|>+1 and 50357…50361,
// large-v3 with <|startoftranscript|> and 50359…50363.
func (s whisperSpecial) suppressTokens(multilingual bool) []int {
	english := []int{1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59, 60, 61, 62, 63, 90, 91, 92, 93,
		357, 366, 438, 532, 685, 705, 796, 930, 1058, 1220, 1267, 1279, 1303, 1343, 1377, 1391, 1635, 1782, 1875, 2162, 2361, 2488,
		3467, 4008, 4211, 4600, 4808, 5299, 5855, 6329, 7203, 9609, 9959, 10563, 10786, 11420, 11709, 11907, 13163, 13697, 13700,
		14808, 15306, 16410, 16791, 17992, 19203, 19510, 20724, 22305, 22935, 27007, 30109, 30420, 33409, 34949, 40283, 40493,
		40549, 47282, 49146}
	multi := []int{1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59, 60, 61, 62, 63, 90, 91, 92, 93,
		359, 503, 522, 542, 873, 893, 902, 918, 922, 931, 1350, 1853, 1982, 2460, 2627, 3246, 3253, 3268, 3536, 3846, 3961, 4183,
		4667, 6585, 6647, 7273, 9061, 9383, 10428, 10929, 11938, 12033, 12331, 12562, 13793, 14157, 14635, 15265, 15618, 16553,
		16604, 18362, 18956, 20075, 21675, 22520, 26130, 26161, 26435, 28279, 29464, 31650, 32302, 32470, 36865, 42863, 47425,
		49870, 50254}
	tail := []int{s.sot, s.translate, s.transcribe, s.sotLM, s.sotPrev, s.noSpeech}
	if multilingual {
		return slices.Concat(multi, tail)
	}
	return slices.Concat(english, tail)
}

// presetAlignmentHeads are the alignment heads written for preset p: the
// checkpoint's own at full size; at tiny size the same pairs folded into
// the tiny geometry (layer mod layers, head mod heads), so every listed
// head exists.
func (m whisperModel) presetAlignmentHeads(d WhisperDims) [][2]int {
	var heads [][2]int
	for _, h := range m.alignmentHeads {
		f := [2]int{h[0] % d.DecoderLayers, h[1] % d.Heads}
		if !slices.Contains(heads, f) {
			heads = append(heads, f)
		}
	}
	slices.SortFunc(heads, func(a, b [2]int) int { return (a[0]-b[0])*1000 + a[1] - b[1] })
	return heads
}

// writeConfigs writes config.json, generation_config.json and
// preprocessor_config.json with the keys and values of the hub's files for
// the checkpoint (dimensions from d).
// whisperSpellings stands in for normalizer.json, the British-to-American
// spelling map of Whisper's EnglishTextNormalizer, which every
// openai/whisper-* repository carries (about 1,700 pairs; a few of the same
// kind here). Only evaluation scripts read it; decoding does not.
var whisperSpellings = map[string]string{
	"accessorise": "accessorize", "analyse": "analyze", "behaviour": "behavior", "centre": "center",
	"colour": "color", "favourite": "favorite", "licence": "license", "organise": "organize",
	"programme": "program", "travelled": "traveled",
}

func (m whisperModel) writeConfigs(dir string, d WhisperDims, o Options) error {
	s := newWhisperSpecial(m.multilingual)
	if s.vocab() != d.Vocab {
		return fmt.Errorf("whisper: special tokens end at %d, vocab_size is %d", s.vocab(), d.Vocab)
	}
	files := map[string]any{
		"config.json":              m.config(d, s, o),
		"generation_config.json":   m.generationConfig(d, s),
		"preprocessor_config.json": whisperPreprocessorConfig(d),
		"normalizer.json":          whisperSpellings,
	}
	for name, v := range files {
		if err := writeM2M100JSON(filepath.Join(dir, name), v); err != nil {
			return err
		}
	}
	return nil
}

func (m whisperModel) config(d WhisperDims, s whisperSpecial, o Options) map[string]any {
	return map[string]any{
		MarkerKey:                 true,
		"edgeinfer_preset":        o.Preset,
		"edgeinfer_seed":          whisperSeed(o.Seed),
		"_name_or_path":           m.repo,
		"activation_dropout":      0.0,
		"activation_function":     "gelu",
		"apply_spec_augment":      false,
		"architectures":           []string{"WhisperForConditionalGeneration"},
		"attention_dropout":       0.0,
		"begin_suppress_tokens":   []int{220, s.eot},
		"bos_token_id":            50257,
		"classifier_proj_size":    256,
		"d_model":                 d.DModel,
		"decoder_attention_heads": d.Heads,
		"decoder_ffn_dim":         d.FFN,
		"decoder_layerdrop":       0.0,
		"decoder_layers":          d.DecoderLayers,
		"decoder_start_token_id":  s.sot,
		"dropout":                 0.0,
		"encoder_attention_heads": d.Heads,
		"encoder_ffn_dim":         d.FFN,
		"encoder_layerdrop":       0.0,
		"encoder_layers":          d.EncoderLayers,
		"eos_token_id":            s.eot,
		"init_std":                0.02,
		"is_encoder_decoder":      true,
		"mask_feature_length":     10,
		"mask_feature_min_masks":  0,
		"mask_feature_prob":       0.0,
		"mask_time_length":        10,
		"mask_time_min_masks":     2,
		"mask_time_prob":          0.05,
		"max_source_positions":    WhisperSourcePositions,
		"max_target_positions":    WhisperTargetPositions,
		"median_filter_width":     7,
		"model_type":              "whisper",
		"num_hidden_layers":       d.EncoderLayers,
		"num_mel_bins":            d.Mels,
		"pad_token_id":            s.eot,
		"scale_embedding":         false,
		"torch_dtype":             "float32",
		"transformers_version":    whisperTransformersVersion,
		"use_cache":               true,
		"use_weighted_layer_sum":  false,
		"vocab_size":              d.Vocab,
	}
}

// generationConfig is generation_config.json: an English-only model forces
// <|notimestamps|> after <|startoftranscript|> and has no language or task
// tables; a multilingual one leaves the language open ([1, null]), forces
// <|transcribe|> and lists lang_to_id and task_to_id.
func (m whisperModel) generationConfig(d WhisperDims, s whisperSpecial) map[string]any {
	heads := [][]int{}
	for _, h := range m.presetAlignmentHeads(d) {
		heads = append(heads, []int{h[0], h[1]})
	}
	g := map[string]any{
		"alignment_heads":             heads,
		"begin_suppress_tokens":       []int{220, s.eot},
		"bos_token_id":                50257,
		"decoder_start_token_id":      s.sot,
		"eos_token_id":                s.eot,
		"forced_decoder_ids":          [][]any{{1, s.noTimestamps}},
		"is_multilingual":             m.multilingual,
		"max_initial_timestamp_index": 50,
		"max_length":                  WhisperTargetPositions,
		"no_timestamps_token_id":      s.noTimestamps,
		"pad_token_id":                s.eot,
		"prev_sot_token_id":           s.sotPrev,
		"return_timestamps":           false,
		"suppress_tokens":             s.suppressTokens(m.multilingual),
		"transformers_version":        whisperTransformersVersion,
	}
	if m.multilingual {
		langs := map[string]int{}
		for i, lang := range engine.SpeechLanguages[:s.languages] {
			langs["<|"+lang.Code+"|>"] = s.firstLanguage + i
		}
		g["forced_decoder_ids"] = [][]any{{1, nil}, {2, s.transcribe}}
		g["lang_to_id"] = langs
		g["task_to_id"] = map[string]int{"transcribe": s.transcribe, "translate": s.translate}
	}
	return g
}

// whisperPreprocessorConfig is preprocessor_config.json for
// WhisperFeatureExtractor. mel_filters is left out: models/audioprep (like
// transformers) computes the same Slaney filters from feature_size.
func whisperPreprocessorConfig(d WhisperDims) map[string]any {
	return map[string]any{
		"chunk_length":           30,
		"feature_extractor_type": "WhisperFeatureExtractor",
		"feature_size":           d.Mels,
		"hop_length":             160,
		"n_fft":                  400,
		"n_samples":              480000,
		"nb_max_frames":          WhisperFrames,
		"padding_side":           "right",
		"padding_value":          0.0,
		"processor_class":        "WhisperProcessor",
		"return_attention_mask":  false,
		"sampling_rate":          16000,
	}
}

// writeTokenizer writes the six tokenizer files of the hub's repos
// (whisper_tokenizer.go).
func (m whisperModel) writeTokenizer(dir string, p Preset) error {
	files, err := WhisperTokenizerFiles(m.multilingual, p)
	if err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
