package httpapi

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/edgeinfer/edgeinfer/engine"
)

// fakeBackend stands in for the model runtimes so these tests exercise the
// HTTP surfaces and the engine spine alone. Its outputs are derived from the
// inputs, so a test can tell that the right input reached the model.
type fakeBackend struct{}

func (fakeBackend) Check(context.Context, engine.ModelSpec) (engine.Installation, error) {
	return engine.Installation{Synthetic: true, Source: "fake"}, nil
}

func (fakeBackend) Load(_ context.Context, spec engine.ModelSpec) (engine.Model, error) {
	return fakeModel{id: spec.Entry.ID}, nil
}

type fakeModel struct{ id string }

func (fakeModel) Close() error { return nil }

func (fakeModel) Embed(_ context.Context, in *engine.EmbeddingsInput) (*engine.EmbeddingsOutput, error) {
	out := &engine.EmbeddingsOutput{Shape: [2]int{len(in.Text), 2}, Pooling: in.Pooling}
	for _, t := range in.Text {
		if t == "busy" {
			return nil, engine.Busy(3 * time.Second)
		}
		out.Data = append(out.Data, []float32{float32(len(t)), 0.5})
		out.PromptTokens += len(strings.Fields(t)) + 2
	}
	return out, nil
}

// Rerank scores a context by its share of the query's words.
func (fakeModel) Rerank(_ context.Context, in *engine.RerankInput) (*engine.RerankOutput, error) {
	out := &engine.RerankOutput{}
	for i, c := range in.Contexts {
		shared := 0
		for _, w := range strings.Fields(in.Query) {
			if strings.Contains(c, w) {
				shared++
			}
		}
		out.Response = append(out.Response, engine.RerankScore{ID: i, Score: float64(shared) / float64(len(strings.Fields(in.Query))+1)})
		out.PromptTokens += len(strings.Fields(in.Query)) + len(strings.Fields(c)) + 4
	}
	return out, nil
}

func (fakeModel) ClassifyText(_ context.Context, in *engine.TextClassificationInput) (*engine.TextClassificationOutput, error) {
	pos := 0.25
	if strings.Contains(in.Text, "good") {
		pos = 0.75
	}
	return &engine.TextClassificationOutput{Labels: []engine.Classification{{Label: "NEGATIVE", Score: float32(1 - pos)}, {Label: "POSITIVE", Score: float32(pos)}},
		PromptTokens: len(strings.Fields(in.Text)) + 2}, nil
}

func (fakeModel) Classify(_ context.Context, in *engine.ImageInput) ([]engine.Classification, error) {
	return []engine.Classification{{Label: fmt.Sprintf("BYTES %d", len(in.Image)), Score: 0.75}, {Label: "OTHER", Score: 0.25}}, nil
}

func (fakeModel) Translate(_ context.Context, in *engine.TranslationInput) (*engine.TranslationOutput, error) {
	return &engine.TranslationOutput{TranslatedText: in.SourceLang + ">" + in.TargetLang + ":" + in.Text}, nil
}

func (fakeModel) Generate(ctx context.Context, in *engine.GenerationInput, emit func(string) error) (*engine.GenerationOutput, error) {
	text := in.Prompt
	if len(in.Messages) > 0 {
		text = in.Messages[len(in.Messages)-1].Content
	}
	words := strings.Fields(text)
	if len(words) > in.MaxTokens {
		words = words[:in.MaxTokens]
	}
	var b strings.Builder
	for i, w := range words {
		piece := w
		if i > 0 {
			piece = " " + w
		}
		if w == "FAIL" {
			return nil, engine.Internal(fmt.Errorf("backend died"))
		}
		if err := emit(piece); err != nil {
			return nil, err
		}
		b.WriteString(piece)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := &engine.GenerationOutput{Response: b.String(),
		Usage: engine.Usage{PromptTokens: 3, CompletionTokens: len(words), TotalTokens: 3 + len(words)}}
	if len(in.Tools) > 0 && strings.Contains(text, "CALL") { // calls the first tool
		out.ToolCalls = []engine.ToolCall{{Name: in.Tools[0].Name, Arguments: map[string]any{"q": text}}}
	}
	return out, nil
}

// Transcribe describes the request it got: the audio's size, the task, the
// language (or "auto") and the prompt, over one second per 1000 bytes in
// two segments, the first with word timings. Audio starting "bad" is
// refused as the real backend refuses what it cannot decode.
func (fakeModel) Transcribe(_ context.Context, in *engine.TranscriptionInput) (*engine.TranscriptionOutput, error) {
	if strings.HasPrefix(string(in.Audio), "bad") {
		return nil, engine.BadInput("audio", "not a supported audio format")
	}
	lang := in.Language
	if lang == "" {
		lang = "auto"
	}
	dur := float64(len(in.Audio)) / 1000
	first := fmt.Sprintf(" %d bytes", len(in.Audio))
	second := fmt.Sprintf(" %s %s %s", in.Task, lang, in.InitialPrompt)
	return &engine.TranscriptionOutput{Language: "en", LanguageProbability: 0.5, Duration: dur, DurationAfterVAD: dur,
		Text: first + second, Segments: []engine.TranscriptionSegment{
			{ID: 0, Start: 0, End: dur / 2, Text: first, Tokens: []int64{50364, 1, 2}, AvgLogprob: -0.5,
				Words: []engine.TranscriptionWord{{Word: first, Start: 0, End: dur / 2}}},
			{ID: 1, Seek: 100, Start: dur / 2, End: dur, Text: second, Temperature: 0.2},
		}}, nil
}
