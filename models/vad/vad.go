// Package vad finds speech in 16 kHz audio with Silero VAD v5 on ONNX
// Runtime, the way faster-whisper's vad_filter does: speech probabilities
// per 32 ms window, get_speech_timestamps' state machine over them,
// collect_chunks to cut the speech out, and SpeechTimestampsMap to move
// times in the cut audio back to the original.
//
// The Whisper backend's call sequence:
//
//	m, err := vad.Load(dir, ort.Options{IntraOpThreads: 1}) // once; dir holds silero_vad.onnx
//	chunks, err := m.Speech(ctx, samples, vad.DefaultOptions())
//	speech := vad.Collect(samples, chunks) // what Whisper decodes
//	afterVAD := float64(len(speech)) / vad.SampleRate
//	times := vad.NewTimeMap(chunks)
//	// a word decoded at [s, e] in speech:
//	k := times.ChunkIndex((s + e) / 2)
//	s, e = times.OriginalTime(s, k), times.OriginalTime(e, k)
//	// a segment without words: times.OriginalTime(t, times.ChunkIndex(t))
package vad

import (
	"context"
	"math"
	"sort"
)

const (
	// SampleRate is the only rate the speech search runs at.
	SampleRate = 16000
	// WindowSamples is one probability's window: 32 ms.
	WindowSamples = 512
	// maxSpeechSilenceSamples is the shortest silence (98 ms) a chunk over
	// MaxSpeechDurationS may be split at.
	maxSpeechSilenceSamples = SampleRate * 98 / 1000
)

// Options are faster-whisper's VadOptions.
type Options struct {
	// Threshold: a window at or above it is speech.
	Threshold float64
	// NegThreshold: below it a window is silence; between the two it
	// continues what came before. 0 means max(Threshold-0.15, 0.01).
	NegThreshold float64
	// MinSpeechDurationMS drops shorter speech chunks.
	MinSpeechDurationMS int
	// MaxSpeechDurationS splits longer chunks (at a silence of 98 ms or
	// more where there is one); +Inf never splits.
	MaxSpeechDurationS float64
	// MinSilenceDurationMS is how long speech must stop to end a chunk.
	MinSilenceDurationMS int
	// SpeechPadMS widens every chunk on both sides.
	SpeechPadMS int
}

// DefaultOptions are faster-whisper's defaults for vad_filter.
func DefaultOptions() Options {
	return Options{Threshold: 0.5, MaxSpeechDurationS: math.Inf(1), MinSilenceDurationMS: 2000, SpeechPadMS: 400}
}

// Chunk is one stretch of speech, in samples: [Start, End).
type Chunk struct {
	Start, End int
}

// Prober gives the speech probability of each WindowSamples window of the
// audio, zero-padded to Windows(len(samples)) windows. A Model is one; a
// test can use any function of the audio.
type Prober interface {
	SpeechProbabilities(ctx context.Context, samples []float32) ([]float32, error)
}

// Windows is how many windows faster-whisper scores for n samples: it pads
// to the next multiple of the window, adding a whole window when n is one.
func Windows(n int) int {
	return n/WindowSamples + 1
}

// Speech returns the speech chunks of 16 kHz samples.
func Speech(ctx context.Context, p Prober, samples []float32, o Options) ([]Chunk, error) {
	probs, err := p.SpeechProbabilities(ctx, samples)
	if err != nil {
		return nil, err
	}
	return SpeechTimestamps(probs, len(samples), o), nil
}

// SpeechTimestamps is get_speech_timestamps' state machine over window
// probabilities of audio n samples long, then its padding.
func SpeechTimestamps(probs []float32, n int, o Options) []Chunk {
	neg := o.NegThreshold
	if neg == 0 {
		neg = math.Max(o.Threshold-0.15, 0.01)
	}
	minSpeech := float64(SampleRate*o.MinSpeechDurationMS) / 1000
	pad := float64(SampleRate*o.SpeechPadMS) / 1000
	maxSpeech := SampleRate*o.MaxSpeechDurationS - WindowSamples - 2*pad
	minSilence := float64(SampleRate*o.MinSilenceDurationMS) / 1000

	var speeches []Chunk
	triggered, open := false, false
	start, tempEnd, prevEnd, nextStart := 0, 0, 0, 0
	closeAt := func(end int) { speeches = append(speeches, Chunk{start, end}) }
	for i, p := range probs {
		at := WindowSamples * i
		speech := float64(p) >= o.Threshold
		if speech && tempEnd != 0 {
			tempEnd = 0
			if nextStart < prevEnd {
				nextStart = at
			}
		}
		if speech && !triggered {
			triggered, open, start = true, true, at
			continue
		}
		if triggered && float64(at-start) > maxSpeech {
			if prevEnd != 0 {
				closeAt(prevEnd)
				open = false
				if nextStart < prevEnd { // silence since, not speech again
					triggered = false
				} else {
					open, start = true, nextStart
				}
				prevEnd, nextStart, tempEnd = 0, 0, 0
			} else {
				closeAt(at)
				open, triggered = false, false
				prevEnd, nextStart, tempEnd = 0, 0, 0
				continue
			}
		}
		if float64(p) < neg && triggered {
			if tempEnd == 0 {
				tempEnd = at
			}
			if at-tempEnd > maxSpeechSilenceSamples {
				prevEnd = tempEnd
			}
			if float64(at-tempEnd) < minSilence {
				continue
			}
			if float64(tempEnd-start) > minSpeech {
				closeAt(tempEnd)
			}
			open, triggered = false, false
			prevEnd, nextStart, tempEnd = 0, 0, 0
		}
	}
	if open && float64(n-start) > minSpeech {
		closeAt(n)
	}
	padChunks(speeches, n, pad)
	return speeches
}

// padChunks widens each chunk by pad samples on each side, or meets its
// neighbour halfway where the gap is under twice that.
func padChunks(s []Chunk, n int, pad float64) {
	for i := range s {
		if i == 0 {
			s[i].Start = int(math.Max(0, float64(s[i].Start)-pad))
		}
		if i == len(s)-1 {
			s[i].End = int(math.Min(float64(n), float64(s[i].End)+pad))
			continue
		}
		gap := s[i+1].Start - s[i].End
		if float64(gap) < 2*pad {
			half := floorDiv(gap, 2)
			s[i].End += half
			s[i+1].Start = max(0, s[i+1].Start-half)
		} else {
			s[i].End = int(math.Min(float64(n), float64(s[i].End)+pad))
			s[i+1].Start = int(math.Max(0, float64(s[i+1].Start)-pad))
		}
	}
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Collect returns the speech chunks' samples, one after the other
// (collect_chunks); no chunks give no samples.
func Collect(samples []float32, chunks []Chunk) []float32 {
	total := 0
	for _, c := range chunks {
		total += c.End - c.Start
	}
	out := make([]float32, 0, total)
	for _, c := range chunks {
		out = append(out, samples[c.Start:c.End]...)
	}
	return out
}

// TimeMap moves times in collected speech back to the original audio
// (faster-whisper's SpeechTimestampsMap).
type TimeMap struct {
	chunkEnd      []int     // each chunk's end in the collected audio, samples
	silenceBefore []float64 // seconds cut before each chunk
}

// NewTimeMap maps the collected audio of chunks.
func NewTimeMap(chunks []Chunk) *TimeMap {
	m := &TimeMap{}
	prevEnd, silent := 0, 0
	for _, c := range chunks {
		silent += c.Start - prevEnd
		prevEnd = c.End
		m.chunkEnd = append(m.chunkEnd, c.End-silent)
		m.silenceBefore = append(m.silenceBefore, float64(silent)/SampleRate)
	}
	return m
}

// ChunkIndex is the chunk a time in the collected audio falls in (the
// last one past the end).
func (m *TimeMap) ChunkIndex(t float64) int {
	sample := int(t * SampleRate)
	i := sort.Search(len(m.chunkEnd), func(k int) bool { return m.chunkEnd[k] > sample })
	return min(i, len(m.chunkEnd)-1)
}

// OriginalTime is the time in the original audio of t in the collected
// audio, taken as inside chunk k, rounded to hundredths of a second.
func (m *TimeMap) OriginalTime(t float64, k int) float64 {
	if k < 0 || k >= len(m.silenceBefore) {
		return math.Round(t*100) / 100
	}
	return math.Round((m.silenceBefore[k]+t)*100) / 100
}
