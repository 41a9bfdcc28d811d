package httpapi

import (
	"math"
	"net/http"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
)

// openAITranscription is OpenAI's json answer.
type openAITranscription struct {
	Text  string     `json:"text"`
	Usage audioUsage `json:"usage"`
}

// audioUsage is OpenAI's usage of a whisper-1 call: whole seconds of audio.
type audioUsage struct {
	Type    string `json:"type"`
	Seconds int    `json:"seconds"`
}

// openAIVerbose is OpenAI's verbose_json answer.
type openAIVerbose struct {
	Task     string                     `json:"task"`
	Language string                     `json:"language"`
	Duration float64                    `json:"duration"`
	Text     string                     `json:"text"`
	Segments []openAISegment            `json:"segments,omitempty"`
	Words    []engine.TranscriptionWord `json:"words,omitempty"`
	Usage    audioUsage                 `json:"usage"`
}

type openAISegment struct {
	ID               int     `json:"id"`
	Seek             int     `json:"seek"`
	Start            float64 `json:"start"`
	End              float64 `json:"end"`
	Text             string  `json:"text"`
	Tokens           []int64 `json:"tokens"`
	Temperature      float64 `json:"temperature"`
	AvgLogprob       float64 `json:"avg_logprob"`
	CompressionRatio float64 `json:"compression_ratio"`
	NoSpeechProb     float64 `json:"no_speech_prob"`
}

// writeAudioAnswer writes a transcription in the form's response_format.
func writeAudioAnswer(w http.ResponseWriter, form *audioForm, task string, out *engine.TranscriptionOutput) {
	usage := audioUsage{Type: "duration", Seconds: int(math.Ceil(out.Duration))}
	switch form.responseFormat {
	case "text":
		writeText(w, out.Text+"\n")
	case "srt":
		writeText(w, engine.SegmentsSRT(out.Segments))
	case "vtt":
		writeText(w, engine.SegmentsVTT(out.Segments))
	case "verbose_json":
		writeJSON(w, http.StatusOK, verboseAnswer(form, task, out, usage))
	default:
		writeJSON(w, http.StatusOK, openAITranscription{Text: out.Text, Usage: usage})
	}
}

// verboseAnswer is the verbose_json answer: segments unless only word
// granularity was asked for, words when it was.
func verboseAnswer(form *audioForm, task string, out *engine.TranscriptionOutput, usage audioUsage) openAIVerbose {
	v := openAIVerbose{Task: task, Language: languageName(out.Language), Duration: out.Duration, Text: out.Text, Usage: usage}
	segments, words := len(form.granularities) == 0, false
	for _, g := range form.granularities {
		segments = segments || g == "segment"
		words = words || g == "word"
	}
	if segments {
		v.Segments = make([]openAISegment, len(out.Segments))
		for i, s := range out.Segments {
			tokens := s.Tokens
			if tokens == nil {
				tokens = []int64{}
			}
			v.Segments[i] = openAISegment{ID: s.ID, Seek: s.Seek, Start: s.Start, End: s.End, Text: s.Text, Tokens: tokens,
				Temperature: s.Temperature, AvgLogprob: s.AvgLogprob, CompressionRatio: s.CompressionRatio, NoSpeechProb: s.NoSpeechProb}
		}
	}
	if words {
		v.Words = out.Words()
	}
	return v
}

func writeText(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(s))
}

// languageName is the English name OpenAI's verbose_json gives a language
// ("english"), from Whisper's language table; an unknown code stays as is.
func languageName(code string) string {
	if name, ok := whisperLanguages[strings.ToLower(code)]; ok {
		return name
	}
	return code
}

// whisperLanguages are Whisper's 100 languages (tokenizer.py's LANGUAGES).
var whisperLanguages = map[string]string{
	"en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
	"fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
	"nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
	"fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
	"cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
	"th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
	"mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
	"lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian", "kn": "kannada",
	"et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
	"ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
	"gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer", "sn": "shona",
	"yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan", "ka": "georgian", "be": "belarusian",
	"tg": "tajik", "sd": "sindhi", "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao",
	"uz": "uzbek", "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
	"mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan", "tl": "tagalog",
	"mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala", "ha": "hausa",
	"ba": "bashkir", "jw": "javanese", "su": "sundanese", "yue": "cantonese",
}
