package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"unicode/utf8"
)

// TaskSpeechRecognition is Workers AI's Automatic Speech Recognition task
// (whisper, whisper-tiny-en, whisper-large-v3-turbo): audio in, text,
// segments, words and subtitles out.
const TaskSpeechRecognition Task = "automatic-speech-recognition"

// TranscriptionInput is a validated speech-recognition request.
type TranscriptionInput struct {
	// Audio is the uploaded file's bytes, any container models/audioprep
	// detects.
	Audio []byte
	// Task is "transcribe" (the default) or "translate" (into English).
	Task string
	// Language is an ISO code ("en"); "" asks a multilingual model to
	// detect it. The backend rejects codes its model lacks with
	// BadInput("language", "… valid codes: …").
	Language  string
	VADFilter bool
	// InitialPrompt conditions the first window; Prefix starts its text.
	InitialPrompt, Prefix string
	// BeamSize 0 is the model's default (1: greedy); the backend checks
	// its range.
	BeamSize int
	// ConditionOnPreviousText feeds each window the previous one's text
	// (Whisper's default: true).
	ConditionOnPreviousText bool
	// Temperature is the fallback ladder; nil is {0, 0.2, 0.4, 0.6, 0.8, 1.0}.
	Temperature []float64
	// Thresholds; nil is Whisper's default: 0.6, 2.4, -1.0 and off.
	NoSpeechThreshold, CompressionRatioThreshold, LogProbThreshold, HallucinationSilenceThreshold *float64
	// WordTimestamps asks for Words in each segment; the engine sets it
	// when the answer carries words.
	WordTimestamps bool
	// WithoutTimestamps decodes each 30 s window after <|notimestamps|>
	// (openai-whisper's without_timestamps) as one segment spanning the
	// window, every window starting where the last ended — what the
	// Hugging Face and transformers.js pipelines do without
	// return_timestamps. Windows then cut words at 30 s boundaries, so no
	// Workers AI or OpenAI route sets it; the benchmarks use it to decode
	// as transformers.js does.
	WithoutTimestamps bool
}

// TranscriptionWord is one word with its times in seconds.
type TranscriptionWord struct {
	Word  string  `json:"word"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// TranscriptionSegment is one decoded stretch of audio, as Whisper's
// transcribe loop reports it. Times are in seconds.
type TranscriptionSegment struct {
	ID               int
	Seek             int // the window's start, in mel frames
	Start, End       float64
	Text             string
	Tokens           []int64
	Temperature      float64
	AvgLogprob       float64
	CompressionRatio float64
	NoSpeechProb     float64
	Words            []TranscriptionWord
}

// TranscriptionOutput is what a Transcriber returns; the engine shapes it
// into each schema's JSON and the OpenAI formats.
type TranscriptionOutput struct {
	Language            string
	LanguageProbability float64
	// Duration is the audio's length and DurationAfterVAD the speech kept
	// by the VAD filter (Duration without it), in seconds.
	Duration, DurationAfterVAD float64
	Text                       string
	Segments                   []TranscriptionSegment
}

// Transcriber is implemented by speech-recognition backends.
type Transcriber interface {
	Transcribe(ctx context.Context, in *TranscriptionInput) (*TranscriptionOutput, error)
}

// MaxAudioBytes caps an uploaded audio file. Workers AI publishes no limit
// for its Whisper models; this is OpenAI's transcription limit (25 MB), so
// a file one accepts the other does too.
const MaxAudioBytes = 25 << 20

// SchemaWhisperTurbo marks whisper-large-v3-turbo's Workers AI schema:
// base64 audio with decoding options in, transcription_info and segments
// out. Without it an ASR model takes the legacy whisper schema.
const SchemaWhisperTurbo = "whisper-large-v3-turbo"

// maxPromptRunes bounds initial_prompt and prefix. Whisper keeps at most
// 223 prompt tokens, so anything longer is cut by the backend anyway.
const maxPromptRunes = 4096

// beam sizes a request may ask for; faster-whisper takes any positive
// size, and beyond 10 the cost grows with no known gain.
const minBeamSize, maxBeamSize = 1, 10

// CheckAudio refuses empty audio and audio over MaxAudioBytes, naming
// field.
func CheckAudio(field string, b []byte) error {
	if len(b) == 0 {
		return BadInput(field, "must not be empty")
	}
	if len(b) > MaxAudioBytes {
		return TooLarge(field, "audio is %d bytes, over the limit of %d bytes (25 MiB)", len(b), MaxAudioBytes)
	}
	return nil
}

// newTranscriptionInput is a request for audio with Whisper's defaults.
// Every Workers AI answer carries words, so word timestamps are on.
func newTranscriptionInput(audio []byte) *TranscriptionInput {
	return &TranscriptionInput{Audio: audio, Task: "transcribe", ConditionOnPreviousText: true, WordTimestamps: true}
}

// decodeTranscription reads an ASR request: body is the raw audio when the
// request sent one (its other inputs, from the binding's userInputs, in
// raw), else raw is the JSON input. The legacy schema takes only audio;
// the turbo schema's options are validated too.
func decodeTranscription(entry *Entry, body, raw []byte) (*TranscriptionInput, error) {
	var f *fields
	if raw != nil {
		var err error
		if f, err = parseObject("", raw); err != nil {
			return nil, err
		}
	}
	audio := body
	if audio == nil {
		if !f.has("audio") {
			return nil, BadInput("audio", "is required (send the audio file as the body, an array of 0-255 integers, or a base64 string)")
		}
		var err error
		if audio, err = decodeAudioValue("audio", f.m["audio"]); err != nil {
			return nil, err
		}
	}
	if err := CheckAudio("audio", audio); err != nil {
		return nil, err
	}
	in := newTranscriptionInput(audio)
	if entry.Schema != SchemaWhisperTurbo || f == nil {
		return in, nil
	}
	return in, decodeWhisperOptions(f, in)
}

// decodeWhisperOptions reads whisper-large-v3-turbo's decoding options.
func decodeWhisperOptions(f *fields, in *TranscriptionInput) error {
	if err := decodeWhisperStrings(f, in); err != nil {
		return err
	}
	var err error
	if in.VADFilter, err = f.boolean("vad_filter", false); err != nil {
		return err
	}
	if in.ConditionOnPreviousText, err = f.boolean("condition_on_previous_text", true); err != nil {
		return err
	}
	if v, ok, err := f.integer("beam_size", minBeamSize, maxBeamSize); err != nil {
		return err
	} else if ok {
		in.BeamSize = int(v)
	}
	thresholds := []struct {
		name   string
		lo, hi float64
		dst    **float64
	}{
		{"no_speech_threshold", 0, 1, &in.NoSpeechThreshold},
		{"compression_ratio_threshold", 0, 1000, &in.CompressionRatioThreshold},
		{"log_prob_threshold", -1000, 0, &in.LogProbThreshold},
		{"hallucination_silence_threshold", 0, 3600, &in.HallucinationSilenceThreshold},
	}
	for _, t := range thresholds {
		if v, ok, err := f.number(t.name, t.lo, t.hi); err != nil {
			return err
		} else if ok {
			*t.dst = &v
		}
	}
	return nil
}

// decodeWhisperStrings reads task, language, initial_prompt and prefix.
func decodeWhisperStrings(f *fields, in *TranscriptionInput) error {
	if s, ok, err := f.str("task"); err != nil {
		return err
	} else if ok {
		if s != "transcribe" && s != "translate" {
			return BadInput("task", "must be \"transcribe\" or \"translate\", got %q", s)
		}
		in.Task = s
	}
	if s, ok, err := f.str("language"); err != nil {
		return err
	} else if ok {
		if len(s) > 32 {
			return BadInput("language", "must be a language code such as \"en\"")
		}
		in.Language = s
	}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"initial_prompt", &in.InitialPrompt}, {"prefix", &in.Prefix}} {
		s, _, err := f.str(p.name)
		if err != nil {
			return err
		}
		if utf8.RuneCountInString(s) > maxPromptRunes {
			return TooLarge(p.name, "must be at most %d characters", maxPromptRunes)
		}
		*p.dst = s
	}
	return nil
}

// decodeAudioValue reads audio sent in JSON: an array of integers 0-255, a
// base64 string (or data: URL), or {body, contentType} with either as body.
func decodeAudioValue(path string, raw json.RawMessage) ([]byte, error) {
	switch jsonKind(raw) {
	case "an array":
		return decodeByteArray(path, raw)
	case "a string":
		s, err := decodeString(path, raw)
		if err != nil {
			return nil, err
		}
		if len(s) > MaxAudioBytes/3*4+8 {
			return nil, TooLarge(path, "audio is over the limit of %d bytes (25 MiB)", MaxAudioBytes)
		}
		b, err := decodeBase64(s)
		if err != nil {
			return nil, BadInput(path, "is not valid base64: %v", err)
		}
		return b, nil
	case "an object":
		f, err := parseObject(path, raw)
		if err != nil {
			return nil, err
		}
		if !f.has("body") {
			return nil, BadInput(f.path("body"), "is required")
		}
		if _, _, err := f.str("contentType"); err != nil {
			return nil, err
		}
		return decodeAudioValue(f.path("body"), f.m["body"])
	}
	return nil, BadInput(path, "must be an array of integers 0-255 or a base64 string, got %s", jsonKind(raw))
}

// decodeByteArray reads a JSON array of integers 0-255 without building a
// value per element: a 25 MiB file is 25 million of them. Every element
// must be an integer (1.0 and 1e2 count); errors name path[i].
func decodeByteArray(path string, raw []byte) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	body := bytes.TrimSpace(raw[1 : len(raw)-1]) // the caller saw '[' and the JSON parser the matching ']'
	if len(body) == 0 {
		return []byte{}, nil
	}
	out := make([]byte, 0, len(body)/3+1)
	for i := 0; len(body) > 0; i++ {
		if i >= MaxAudioBytes {
			return nil, TooLarge(path, "audio is over the limit of %d bytes (25 MiB)", MaxAudioBytes)
		}
		tok, rest, _ := bytes.Cut(body, []byte{','})
		tok = bytes.TrimSpace(tok)
		v, ok := byteValue(tok)
		if !ok {
			return nil, BadInput(indexPath(path, i), "must be an integer 0-255, got %s", truncateToken(tok))
		}
		out = append(out, v)
		body = rest
	}
	return out, nil
}

// byteValue parses one array element as an integer 0-255.
func byteValue(tok []byte) (byte, bool) {
	if n := len(tok); n > 0 && n <= 3 && tok[0] >= '0' && tok[0] <= '9' {
		v := 0
		for _, c := range tok {
			if c < '0' || c > '9' {
				return slowByteValue(tok)
			}
			v = v*10 + int(c-'0')
		}
		return byte(v), v <= 255
	}
	return slowByteValue(tok)
}

func slowByteValue(tok []byte) (byte, bool) {
	var v float64
	if len(tok) == 0 || tok[0] == '"' || json.Unmarshal(tok, &v) != nil || v != math.Trunc(v) || v < 0 || v > 255 {
		return 0, false
	}
	return byte(v), true
}

// truncateToken quotes at most 20 bytes of an offending element.
func truncateToken(tok []byte) string {
	if len(tok) == 0 {
		return "nothing"
	}
	if len(tok) > 20 {
		return string(tok[:20]) + "…"
	}
	return string(tok)
}

// transcribe runs a request on a Transcriber and answers in the model's
// Workers AI shape.
func transcribe(ctx context.Context, m Transcriber, entry *Entry, in *TranscriptionInput) (*Transcription, error) {
	out, err := m.Transcribe(ctx, in)
	if err != nil {
		return nil, err
	}
	return &Transcription{TranscriptionOutput: out, Schema: entry.Schema}, nil
}

// SpeechLanguage is one of Whisper's languages: its code and English name.
type SpeechLanguage struct{ Code, Name string }

// SpeechLanguages are Whisper's languages in token order (openai-whisper's
// LANGUAGES): English-only and v1/v2 models have the first 99, large-v3 and
// turbo all 100 (with "yue"). The synthetic models, the backend's lookups by
// name and OpenAI's verbose_json language names all read this one table.
var SpeechLanguages = []SpeechLanguage{
	{"en", "english"}, {"zh", "chinese"}, {"de", "german"}, {"es", "spanish"}, {"ru", "russian"},
	{"ko", "korean"}, {"fr", "french"}, {"ja", "japanese"}, {"pt", "portuguese"}, {"tr", "turkish"},
	{"pl", "polish"}, {"ca", "catalan"}, {"nl", "dutch"}, {"ar", "arabic"}, {"sv", "swedish"},
	{"it", "italian"}, {"id", "indonesian"}, {"hi", "hindi"}, {"fi", "finnish"}, {"vi", "vietnamese"},
	{"he", "hebrew"}, {"uk", "ukrainian"}, {"el", "greek"}, {"ms", "malay"}, {"cs", "czech"},
	{"ro", "romanian"}, {"da", "danish"}, {"hu", "hungarian"}, {"ta", "tamil"}, {"no", "norwegian"},
	{"th", "thai"}, {"ur", "urdu"}, {"hr", "croatian"}, {"bg", "bulgarian"}, {"lt", "lithuanian"},
	{"la", "latin"}, {"mi", "maori"}, {"ml", "malayalam"}, {"cy", "welsh"}, {"sk", "slovak"}, {"te", "telugu"},
	{"fa", "persian"}, {"lv", "latvian"}, {"bn", "bengali"}, {"sr", "serbian"}, {"az", "azerbaijani"},
	{"sl", "slovenian"}, {"kn", "kannada"}, {"et", "estonian"}, {"mk", "macedonian"}, {"br", "breton"},
	{"eu", "basque"}, {"is", "icelandic"}, {"hy", "armenian"}, {"ne", "nepali"}, {"mn", "mongolian"},
	{"bs", "bosnian"}, {"kk", "kazakh"}, {"sq", "albanian"}, {"sw", "swahili"}, {"gl", "galician"},
	{"mr", "marathi"}, {"pa", "punjabi"}, {"si", "sinhala"}, {"km", "khmer"}, {"sn", "shona"}, {"yo", "yoruba"},
	{"so", "somali"}, {"af", "afrikaans"}, {"oc", "occitan"}, {"ka", "georgian"}, {"be", "belarusian"},
	{"tg", "tajik"}, {"sd", "sindhi"}, {"gu", "gujarati"}, {"am", "amharic"}, {"yi", "yiddish"}, {"lo", "lao"},
	{"uz", "uzbek"}, {"fo", "faroese"}, {"ht", "haitian creole"}, {"ps", "pashto"}, {"tk", "turkmen"},
	{"nn", "nynorsk"}, {"mt", "maltese"}, {"sa", "sanskrit"}, {"lb", "luxembourgish"}, {"my", "myanmar"},
	{"bo", "tibetan"}, {"tl", "tagalog"}, {"mg", "malagasy"}, {"as", "assamese"}, {"tt", "tatar"},
	{"haw", "hawaiian"}, {"ln", "lingala"}, {"ha", "hausa"}, {"ba", "bashkir"}, {"jw", "javanese"},
	{"su", "sundanese"}, {"yue", "cantonese"},
}

// SpeechLanguageName is the English name of a Whisper language code, any
// case.
func SpeechLanguageName(code string) (string, bool) {
	code = strings.ToLower(code)
	for _, l := range SpeechLanguages {
		if l.Code == code {
			return l.Name, true
		}
	}
	return "", false
}
