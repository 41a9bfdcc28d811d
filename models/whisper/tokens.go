package whisper

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/tokenize/hf"
)

// secondsPerTimestamp is the step of Whisper's timestamp tokens
// <|0.00|>, <|0.02|>, … <|30.00|>.
const secondsPerTimestamp = 0.02

// timestampTokens is how many there are (0 to 30 s).
const timestampTokens = 1501

// languageToken is one language token of a multilingual vocabulary.
type languageToken struct {
	code, name string
	id         int64
}

// specialTokens are a Whisper vocabulary's special tokens, read by name
// from tokenizer.json's added tokens and checked against
// generation_config.json. Timestamps are the ids timestampBegin …
// timestampBegin+1500.
type specialTokens struct {
	eot, sot, transcribe, translate, sotLM, sotPrev, noSpeech, noTimestamps int64
	timestampBegin                                                          int64
	multilingual                                                            bool
	languages                                                               []languageToken // id order
	byCode                                                                  map[string]int64
}

// whisperGeneration is the part of generation_config.json checked here.
type whisperGeneration struct {
	DecoderStartTokenID *int64           `json:"decoder_start_token_id"`
	EOSTokenID          *int64           `json:"eos_token_id"`
	NoTimestampsTokenID *int64           `json:"no_timestamps_token_id"`
	PrevSOTTokenID      *int64           `json:"prev_sot_token_id"`
	IsMultilingual      *bool            `json:"is_multilingual"`
	LangToID            map[string]int64 `json:"lang_to_id"`
	TaskToID            map[string]int64 `json:"task_to_id"`
}

// loadSpecialTokens reads dir/generation_config.json and finds the special
// tokens in tok. A model is multilingual when generation_config.json has
// lang_to_id (as is_multilingual says); each id the file names must be the
// tokenizer's.
func loadSpecialTokens(dir string, tok *hf.Tokenizer) (*specialTokens, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "generation_config.json"))
	if err != nil {
		return nil, err
	}
	var gen whisperGeneration
	if err := json.Unmarshal(raw, &gen); err != nil {
		return nil, fmt.Errorf("generation_config.json: %w", err)
	}
	s, err := specialTokensOf(tok)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if err := s.readLanguages(gen, tok); err != nil {
		return nil, fmt.Errorf("generation_config.json: %w", err)
	}
	if err := s.check(gen); err != nil {
		return nil, fmt.Errorf("generation_config.json: %w", err)
	}
	return s, nil
}

// specialTokensOf finds the special tokens by name. <|nospeech|> is
// <|nocaptions|> in English-only and v1 vocabularies; files without
// timestamp tokens have them right after <|notimestamps|>, as openai-whisper
// numbers them.
func specialTokensOf(tok *hf.Tokenizer) (*specialTokens, error) {
	s := &specialTokens{byCode: map[string]int64{}}
	for _, f := range []struct {
		dst   *int64
		names []string
	}{
		{&s.eot, []string{"<|endoftext|>"}}, {&s.sot, []string{"<|startoftranscript|>"}},
		{&s.transcribe, []string{"<|transcribe|>"}}, {&s.translate, []string{"<|translate|>"}},
		{&s.sotLM, []string{"<|startoflm|>"}}, {&s.sotPrev, []string{"<|startofprev|>"}},
		{&s.noSpeech, []string{"<|nospeech|>", "<|nocaptions|>"}}, {&s.noTimestamps, []string{"<|notimestamps|>"}},
	} {
		found := false
		for _, name := range f.names {
			if id, ok := tok.TokenID(name); ok {
				*f.dst, found = id, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("no token %s", strings.Join(f.names, " or "))
		}
	}
	s.timestampBegin = s.noTimestamps + 1
	for i, name := range []string{"<|0.00|>", "<|30.00|>"} {
		if id, ok := tok.TokenID(name); ok && id != s.timestampBegin+int64(i*(timestampTokens-1)) {
			return nil, fmt.Errorf("%s has id %d, want %d after <|notimestamps|>", name, id, s.timestampBegin+int64(i*(timestampTokens-1)))
		}
	}
	return s, nil
}

// readLanguages takes lang_to_id ("<|en|>": id), each id checked against
// the tokenizer.
func (s *specialTokens) readLanguages(gen whisperGeneration, tok *hf.Tokenizer) error {
	for name, id := range gen.LangToID {
		code := strings.TrimSuffix(strings.TrimPrefix(name, "<|"), "|>")
		if got, ok := tok.TokenID(name); !ok || got != id || code == name {
			return fmt.Errorf("lang_to_id: %s is %d, the tokenizer has %d (%v)", name, id, got, ok)
		}
		s.languages = append(s.languages, languageToken{code: code, name: languageName(code), id: id})
		s.byCode[code] = id
	}
	slices.SortFunc(s.languages, func(a, b languageToken) int { return int(a.id - b.id) })
	s.multilingual = len(s.languages) > 0
	return nil
}

// check compares the ids generation_config.json names with the tokenizer's.
func (s *specialTokens) check(gen whisperGeneration) error {
	for _, c := range []struct {
		key  string
		got  *int64
		want int64
	}{
		{"decoder_start_token_id", gen.DecoderStartTokenID, s.sot}, {"eos_token_id", gen.EOSTokenID, s.eot},
		{"no_timestamps_token_id", gen.NoTimestampsTokenID, s.noTimestamps}, {"prev_sot_token_id", gen.PrevSOTTokenID, s.sotPrev},
	} {
		if c.got != nil && *c.got != c.want {
			return fmt.Errorf("%s is %d, the tokenizer has %d", c.key, *c.got, c.want)
		}
	}
	for task, want := range map[string]int64{"transcribe": s.transcribe, "translate": s.translate} {
		if id, ok := gen.TaskToID[task]; ok && id != want {
			return fmt.Errorf("task_to_id: %s is %d, the tokenizer has %d", task, id, want)
		}
	}
	if gen.IsMultilingual != nil && *gen.IsMultilingual != s.multilingual {
		return fmt.Errorf("is_multilingual is %v but lang_to_id lists %d languages", *gen.IsMultilingual, len(s.languages))
	}
	return nil
}

// languageID is the token of a language given by code ("en") or English
// name ("English"), any case. An English-only model has no language token:
// it takes "" or English and returns -1. An unknown language, or another
// language on an English-only model, is a BadInput naming the valid codes.
func (s *specialTokens) languageID(language string) (int64, error) {
	key := strings.ToLower(strings.TrimSpace(language))
	for _, l := range engine.SpeechLanguages {
		if key == l.Name {
			key = l.Code
			break
		}
	}
	if !s.multilingual {
		if key == "" || key == "en" {
			return -1, nil
		}
		return 0, engine.BadInput("language", "this model transcribes English only; valid codes: en")
	}
	if id, ok := s.byCode[key]; ok {
		return id, nil
	}
	return 0, engine.BadInput("language", "unknown language %q; valid codes: %s", language, s.languageCodes())
}

// languageCodes lists the codes in token order.
func (s *specialTokens) languageCodes() string {
	codes := make([]string, len(s.languages))
	for i, l := range s.languages {
		codes[i] = l.code
	}
	return strings.Join(codes, ", ")
}

// sotSequence is <|startoftranscript|>, then on multilingual models the
// language (lang ≥ 0) and the task: openai-whisper's sot_sequence.
func (s *specialTokens) sotSequence(lang int64, translate bool) []int64 {
	seq := []int64{s.sot}
	if !s.multilingual {
		return seq
	}
	if lang >= 0 {
		seq = append(seq, lang)
	}
	if translate {
		return append(seq, s.translate)
	}
	return append(seq, s.transcribe)
}

// prompt lays out a window's decoder prompt as faster-whisper's get_prompt
// does (openai-whisper's _get_initial_tokens with its prefix rule): the
// previous text after <|startofprev|> (its last maxTarget/2-1 tokens; none
// when prev is empty), the sot sequence, <|notimestamps|> unless timestamps
// are predicted, then the prefix (its first maxTarget/2-1 tokens when it
// reaches maxTarget/2), after <|0.00|> when timestamps are predicted.
func (s *specialTokens) prompt(prev []int64, lang int64, translate, timestamps bool, prefix []int64, maxTarget int) []int64 {
	half := maxTarget / 2
	var p []int64
	if len(prev) > 0 {
		p = append(p, s.sotPrev)
		p = append(p, prev[max(0, len(prev)-(half-1)):]...)
	}
	p = append(p, s.sotSequence(lang, translate)...)
	if !timestamps {
		p = append(p, s.noTimestamps)
	}
	if len(prefix) > 0 {
		if len(prefix) >= half {
			prefix = prefix[:half-1]
		}
		if timestamps {
			p = append(p, s.timestampBegin)
		}
		p = append(p, prefix...)
	}
	return p
}

// isTimestamp reports a timestamp token.
func (s *specialTokens) isTimestamp(id int64) bool {
	return id >= s.timestampBegin && id < s.timestampBegin+timestampTokens
}

// timestampSeconds is the time a timestamp token stands for.
func (s *specialTokens) timestampSeconds(id int64) float64 {
	return float64(id-s.timestampBegin) * secondsPerTimestamp
}

// timestampToken is the token nearest to seconds, within 0 … 30 s.
func (s *specialTokens) timestampToken(seconds float64) int64 {
	i := math.Round(seconds / secondsPerTimestamp)
	return s.timestampBegin + int64(min(max(i, 0), timestampTokens-1))
}

// textTokenizer encodes user text into Whisper's text tokens and decodes
// them back.
type textTokenizer struct {
	tok *hf.Tokenizer
	eot int64
}

// encode returns the text tokens of text. Text that spells a special token
// ("<|en|>") is encoded as the characters it is, as openai-whisper's
// tiktoken never lets user text become a control token.
func (t textTokenizer) encode(text string) []int64 {
	return t.tok.EncodeOrdinary(text)
}

// decode returns the text of the ids below <|endoftext|> (special and
// timestamp tokens are left out, as openai-whisper's segment text is); a
// cut inside a character reads as U+FFFD.
func (t textTokenizer) decode(ids []int64) string {
	text := make([]int64, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id < t.eot {
			text = append(text, id)
		}
	}
	return t.tok.Decode(text, true)
}

// bytes returns the raw bytes of the ids below <|endoftext|>: a character
// split across ids is cut, not replaced, so the bytes of consecutive ids
// join into it.
func (t textTokenizer) bytes(ids []int64) []byte {
	text := make([]int64, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id < t.eot {
			text = append(text, id)
		}
	}
	return t.tok.DecodeBytes(text, true)
}

// languageName is a code's English name, for error messages.
func languageName(code string) string {
	name, _ := engine.SpeechLanguageName(code)
	return name
}
