package httpapi

import (
	"math"
	"net/http"

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
	if name, ok := engine.SpeechLanguageName(code); ok {
		return name
	}
	return code
}
