package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Transcription is a speech-recognition result: the backend's output,
// which marshals as the model's Workers AI answer (Schema "" is the legacy
// whisper shape, SchemaWhisperTurbo the turbo one). The OpenAI surface
// reads TranscriptionOutput directly.
type Transcription struct {
	*TranscriptionOutput
	Schema string
}

type legacyTranscription struct {
	Text      string              `json:"text"`
	WordCount int                 `json:"word_count"`
	Words     []TranscriptionWord `json:"words"`
	VTT       string              `json:"vtt"`
}

type turboTranscription struct {
	Info      turboInfo      `json:"transcription_info"`
	Text      string         `json:"text"`
	WordCount int            `json:"word_count"`
	Segments  []turboSegment `json:"segments"`
	VTT       string         `json:"vtt"`
}

type turboInfo struct {
	Language            string  `json:"language"`
	LanguageProbability float64 `json:"language_probability"`
	Duration            float64 `json:"duration"`
	DurationAfterVAD    float64 `json:"duration_after_vad"`
}

type turboSegment struct {
	Start            float64             `json:"start"`
	End              float64             `json:"end"`
	Text             string              `json:"text"`
	Temperature      float64             `json:"temperature"`
	AvgLogprob       float64             `json:"avg_logprob"`
	CompressionRatio float64             `json:"compression_ratio"`
	NoSpeechProb     float64             `json:"no_speech_prob"`
	Words            []TranscriptionWord `json:"words"`
}

// MarshalJSON writes the Workers AI answer of the transcription's schema.
func (t *Transcription) MarshalJSON() ([]byte, error) {
	o := t.TranscriptionOutput
	if o == nil {
		o = &TranscriptionOutput{}
	}
	if t.Schema != SchemaWhisperTurbo {
		words := o.Words()
		return json.Marshal(legacyTranscription{Text: o.Text, WordCount: WordCount(o.Text), Words: words, VTT: WordsVTT(words)})
	}
	segs := make([]turboSegment, len(o.Segments))
	for i, s := range o.Segments {
		segs[i] = turboSegment{Start: s.Start, End: s.End, Text: s.Text, Temperature: s.Temperature, AvgLogprob: s.AvgLogprob,
			CompressionRatio: s.CompressionRatio, NoSpeechProb: s.NoSpeechProb, Words: segmentWords(s)}
	}
	return json.Marshal(turboTranscription{
		Info: turboInfo{Language: o.Language, LanguageProbability: o.LanguageProbability, Duration: o.Duration, DurationAfterVAD: o.DurationAfterVAD},
		Text: o.Text, WordCount: WordCount(o.Text), Segments: segs, VTT: SegmentsVTT(o.Segments)})
}

// WordCount counts the whitespace-separated words of a transcript, as
// Workers AI's word_count does ("It is a good day" → 5).
func WordCount(text string) int { return len(strings.Fields(text)) }

// Words lists the words of every segment in order. A segment the backend
// gave no word timings (an export without cross-attention outputs) gets
// its text's words spread over its time span by length.
func (o *TranscriptionOutput) Words() []TranscriptionWord {
	words := []TranscriptionWord{}
	for _, s := range o.Segments {
		words = append(words, segmentWords(s)...)
	}
	return words
}

// segmentWords is a segment's words, or its text's words timed by their
// share of the segment's characters when the backend gave none.
func segmentWords(s TranscriptionSegment) []TranscriptionWord {
	if len(s.Words) > 0 {
		return s.Words
	}
	fields := strings.Fields(s.Text)
	if len(fields) == 0 {
		return []TranscriptionWord{}
	}
	total := 0
	for _, w := range fields {
		total += utf8.RuneCountInString(w)
	}
	words := make([]TranscriptionWord, len(fields))
	span, done := s.End-s.Start, 0
	for i, w := range fields {
		start := s.Start + span*float64(done)/float64(total)
		done += utf8.RuneCountInString(w)
		words[i] = TranscriptionWord{Word: w, Start: start, End: s.Start + span*float64(done)/float64(total)}
	}
	return words
}

// subtitleCue is one timed line of a subtitle file.
type subtitleCue struct {
	start, end float64
	text       string
}

func segmentCues(segs []TranscriptionSegment) []subtitleCue {
	cues := make([]subtitleCue, 0, len(segs))
	for _, s := range segs {
		if t := strings.TrimSpace(s.Text); t != "" {
			cues = append(cues, subtitleCue{s.Start, s.End, t})
		}
	}
	return cues
}

// SegmentsVTT is a WebVTT file with one cue per segment.
func SegmentsVTT(segs []TranscriptionSegment) string { return buildVTT(segmentCues(segs)) }

// WordsVTT is a WebVTT file with one cue per word, as Workers AI's legacy
// whisper answers carry it.
func WordsVTT(words []TranscriptionWord) string {
	cues := make([]subtitleCue, 0, len(words))
	for _, w := range words {
		if t := strings.TrimSpace(w.Word); t != "" {
			cues = append(cues, subtitleCue{w.Start, w.End, t})
		}
	}
	return buildVTT(cues)
}

// SegmentsSRT is a SubRip file with one numbered cue per segment.
func SegmentsSRT(segs []TranscriptionSegment) string {
	var b strings.Builder
	for i, c := range segmentCues(segs) {
		fmt.Fprintf(&b, "%d\n%s --> %s\n%s\n\n", i+1, subtitleTime(c.start, ','), subtitleTime(c.end, ','), cueText(c.text))
	}
	return b.String()
}

func buildVTT(cues []subtitleCue) string {
	var b strings.Builder
	b.WriteString("WEBVTT\n\n")
	for _, c := range cues {
		fmt.Fprintf(&b, "%s --> %s\n%s\n\n", subtitleTime(c.start, '.'), subtitleTime(c.end, '.'), cueText(c.text))
	}
	return b.String()
}

// cueText keeps a cue on its lines: "-->" would end the cue's text in
// WebVTT, and a blank line would end the cue in both formats.
func cueText(s string) string {
	s = strings.ReplaceAll(s, "-->", "->")
	for strings.Contains(s, "\n\n") {
		s = strings.ReplaceAll(s, "\n\n", "\n")
	}
	return s
}

// subtitleTime formats seconds as HH:MM:SS.mmm (WebVTT) or HH:MM:SS,mmm
// (SubRip, sep ','), rounded to the millisecond; negative or NaN is 0.
func subtitleTime(sec float64, sep byte) string {
	ms := int64(0)
	if sec > 0 && !math.IsInf(sec, 1) {
		ms = int64(math.Round(sec * 1000))
	}
	h, m, s := ms/3600000, ms/60000%60, ms/1000%60
	return fmt.Sprintf("%02d:%02d:%02d%c%03d", h, m, s, sep, ms%1000)
}
