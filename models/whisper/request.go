package whisper

import (
	"context"
	"errors"
	"math"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/audioprep"
	"github.com/edgeinfer/edgeinfer/models/vad"
)

// Model is a speech-recognition backend; the build fails if a method goes
// missing.
var _ engine.Transcriber = (*Model)(nil)

// defaultTemperatures is openai-whisper's fallback ladder.
var defaultTemperatures = []float64{0, 0.2, 0.4, 0.6, 0.8, 1.0}

// Transcribe implements engine.Transcriber.
func (m *Model) Transcribe(ctx context.Context, in *engine.TranscriptionInput) (*engine.TranscriptionOutput, error) {
	o, err := m.options(in)
	if err != nil {
		return nil, err
	}
	// Decoding runs under the bound request-side CPU work shares, so a
	// burst of uploads does not starve the sessions' threads.
	var audio *audioprep.Audio
	if werr := batch.Prepare(ctx, func() { audio, err = audioprep.Decode(in.Audio, audioprep.Limits{}) }); werr != nil {
		return nil, werr
	} else if err != nil {
		return nil, audioError(err)
	}
	samples := audio.Samples
	var times *vad.TimeMap
	if in.VADFilter {
		v, err := m.speechModel()
		if err != nil {
			return nil, err
		}
		chunks, err := v.Speech(ctx, samples, vad.DefaultOptions())
		if err != nil {
			return nil, err
		}
		samples, times = vad.Collect(samples, chunks), vad.NewTimeMap(chunks)
	}
	tr, err := m.transcriber().run(ctx, samples, o)
	if err != nil {
		return nil, err
	}
	if times != nil {
		restoreTimes(tr.segments, times)
	}
	out := &engine.TranscriptionOutput{Language: tr.language, LanguageProbability: tr.languageProb,
		Duration: audio.Seconds(), DurationAfterVAD: float64(len(samples)) / audioprep.SampleRate}
	if o.language != "" || !m.vocab.multilingual {
		out.LanguageProbability = 1 // given, not detected
	}
	var text strings.Builder
	for i, s := range tr.segments {
		text.WriteString(s.text)
		seg := engine.TranscriptionSegment{ID: i, Seek: s.seek, Start: s.start, End: s.end,
			Text: s.text, Tokens: s.tokens, Temperature: s.temperature, AvgLogprob: s.avgLogprob,
			CompressionRatio: s.compressionRatio, NoSpeechProb: s.noSpeechProb}
		for _, w := range s.words {
			seg.Words = append(seg.Words, engine.TranscriptionWord{Word: w.text, Start: w.start, End: w.end})
		}
		out.Segments = append(out.Segments, seg)
	}
	out.Text = text.String()
	return out, nil
}

// transcriber runs requests' windows through the model's scheduler.
func (m *Model) transcriber() *transcriber {
	return &transcriber{vocab: m.vocab, gen: m.gen, codec: m.codec, extractor: m.extractor,
		positions: m.positions, maxTarget: m.maxTarget, maxSample: m.maxSample, submit: m.sched.Submit,
		attention: m.dec.CrossAttentions && len(m.alignmentHeads) > 0, heads: len(m.alignmentHeads)}
}

// options checks a request against the model and resolves the defaults.
// English-only models ignore language; they refuse translation.
func (m *Model) options(in *engine.TranscriptionInput) (options, error) {
	o := options{beams: in.BeamSize, conditionOnPrevious: in.ConditionOnPreviousText, initialPrompt: in.InitialPrompt,
		prefix: in.Prefix, temperatures: in.Temperature, wordTimestamps: in.WordTimestamps, noSpeech: orDefault(in.NoSpeechThreshold, 0.6),
		compressionRatio: orDefault(in.CompressionRatioThreshold, 2.4), logProb: orDefault(in.LogProbThreshold, -1),
		hallucinationSilence: in.HallucinationSilenceThreshold, withoutTimestamps: in.WithoutTimestamps}
	if o.withoutTimestamps {
		o.hallucinationSilence = nil // it cuts windows at timestamps
	}
	switch in.Task {
	case "", "transcribe":
	case "translate":
		if !m.vocab.multilingual {
			return o, engine.BadInput("task", "translate needs a multilingual model; %s is English-only", m.id)
		}
		o.translate = true
	default:
		return o, engine.BadInput("task", "must be transcribe or translate, not %q", in.Task)
	}
	if strings.TrimSpace(in.Language) != "" && m.vocab.multilingual {
		id, err := m.vocab.languageID(in.Language)
		if err != nil {
			return o, err
		}
		o.language = m.vocab.codeOf(id)
	}
	if o.beams == 0 {
		o.beams = 1
	}
	if o.beams < 1 || o.beams > m.maxBeams {
		return o, engine.BadInput("beam_size", "must be between 1 and %d, not %d", m.maxBeams, in.BeamSize)
	}
	if o.temperatures == nil {
		o.temperatures = defaultTemperatures
	}
	if len(o.temperatures) == 0 || len(o.temperatures) > 16 {
		return o, engine.BadInput("temperature", "needs 1 to 16 values, not %d", len(o.temperatures))
	}
	for _, t := range o.temperatures {
		if !(t >= 0 && t <= 2) {
			return o, engine.BadInput("temperature", "%v is outside [0, 2]", t)
		}
	}
	for field, v := range map[string]*float64{"no_speech_threshold": o.noSpeech, "compression_ratio_threshold": o.compressionRatio,
		"log_prob_threshold": o.logProb, "hallucination_silence_threshold": o.hallucinationSilence} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
			return o, engine.BadInput(field, "must be a finite number")
		}
	}
	return o, nil
}

// restoreTimes moves times in the VAD's collected speech back to the
// original audio, as faster-whisper's restore_speech_timestamps: each word
// by the chunk its middle falls in, a segment with words to its words'
// span, one without by the chunks its start and end fall in.
func restoreTimes(segs []segment, times *vad.TimeMap) {
	for i := range segs {
		s := &segs[i]
		if len(s.words) == 0 {
			start, end := s.start, s.end
			s.start = times.OriginalTime(start, times.ChunkIndex(start))
			s.end = times.OriginalTime(end, times.ChunkIndex(max(start, end-0.001)))
			continue
		}
		for k := range s.words {
			w := &s.words[k]
			chunk := times.ChunkIndex((w.start + w.end) / 2)
			w.start, w.end = times.OriginalTime(w.start, chunk), times.OriginalTime(w.end, chunk)
		}
		s.start, s.end = s.words[0].start, s.words[len(s.words)-1].end
	}
}

// codeOf is the code of a language token.
func (s *specialTokens) codeOf(id int64) string {
	for _, l := range s.languages {
		if l.id == id {
			return l.code
		}
	}
	return ""
}

func orDefault(v *float64, def float64) *float64 {
	if v != nil {
		return v
	}
	return &def
}

// audioError turns a decode failure into the engine's error naming audio:
// 413 over a size limit, 500 when the server lacks a codec library, 400
// for anything else about the bytes.
func audioError(err error) error {
	var ae *audioprep.Error
	if !errors.As(err, &ae) {
		return engine.Internal(err)
	}
	switch {
	case errors.Is(err, audioprep.ErrTooLarge):
		return engine.TooLarge("audio", "%s", ae.Message)
	case errors.Is(err, audioprep.ErrNoCodec):
		return engine.Internal(err)
	}
	return engine.BadInput("audio", "%s", ae.Message)
}
