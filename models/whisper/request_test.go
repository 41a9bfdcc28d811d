package whisper

import (
	"context"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/models/audioprep"
)

// Bad requests are refused before any decoding, with the field named:
// 400 for what the caller can fix, 413 for audio over the size limit.
func TestBadRequests(t *testing.T) {
	multi := &Model{id: "@cf/openai/whisper-large-v3-turbo", vocab: testVocab(), maxBeams: 10}
	en := &Model{id: "@cf/openai/whisper-tiny-en", vocab: testVocab(), maxBeams: 10}
	en.vocab.multilingual = false
	wav := []byte("RIFF\x24\x00\x00\x00WAVEfmt ")
	for _, c := range []struct {
		name   string
		m      *Model
		in     engine.TranscriptionInput
		status int
		field  string
		says   string
	}{
		{"not audio", multi, engine.TranscriptionInput{Audio: []byte("hello, this is text")}, 400, "audio", "not audio"},
		{"empty audio", multi, engine.TranscriptionInput{}, 400, "audio", "empty"},
		{"truncated WAV", multi, engine.TranscriptionInput{Audio: wav}, 400, "audio", ""},
		{"unknown language", multi, engine.TranscriptionInput{Audio: wav, Language: "xx"}, 400, "language", "valid codes: en, zh, de"},
		{"translate on English-only", en, engine.TranscriptionInput{Audio: wav, Task: "translate"}, 400, "task", "English-only"},
		{"unknown task", multi, engine.TranscriptionInput{Audio: wav, Task: "summarize"}, 400, "task", "transcribe or translate"},
		{"beam_size 11", multi, engine.TranscriptionInput{Audio: wav, BeamSize: 11}, 400, "beam_size", "between 1 and 10"},
		{"beam_size -1", multi, engine.TranscriptionInput{Audio: wav, BeamSize: -1}, 400, "beam_size", "between 1 and 10"},
		{"negative temperature", multi, engine.TranscriptionInput{Audio: wav, Temperature: []float64{-0.5}}, 400, "temperature", "outside"},
		{"too large", multi, engine.TranscriptionInput{Audio: make([]byte, audioprep.DefaultMaxBytes+1)}, 413, "audio", "limit"},
	} {
		_, err := c.m.Transcribe(context.Background(), &c.in)
		d := engine.Describe(err)
		var field string
		if e, ok := err.(*engine.Error); ok {
			field = e.Field
		}
		if d.Status != c.status || field != c.field || !strings.Contains(d.Message, c.says) {
			t.Errorf("%s: %d %q (field %q), want %d naming %q and saying %q", c.name, d.Status, d.Message, field, c.status, c.field, c.says)
		}
	}
	// An English-only model ignores the language asked for.
	if o, err := en.options(&engine.TranscriptionInput{Language: "de"}); err != nil || o.language != "" {
		t.Errorf("English-only with language de: %+v, %v", o, err)
	}
}
