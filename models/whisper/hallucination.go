package whisper

import (
	"math"
	"strings"

	"github.com/edgeinfer/edgeinfer/models/audioprep"
)

// openai-whisper's hallucination_silence_threshold (transcribe.py): with
// word timestamps, a segment whose words look unlike speech (improbable,
// very short or very long) and that sits between silences longer than the
// threshold is taken for a hallucination. The window is cut before it and
// the next one starts at it, so the silence is skipped rather than
// transcribed.

// punctuation is openai-whisper's: the prepended and appended marks of
// add_word_timestamps, which is_segment_anomaly leaves out.
const punctuation = prependPunctuations + appendPunctuations

// windowSpan is one window of the transcribe loop, in mel frames.
type windowSpan struct {
	seek, size int // the window's start and its real audio
	frames     int // a full window (3000)
	content    int // the whole audio
}

func (w windowSpan) offset() float64     { return frameSeconds(w.seek) }
func (w windowSpan) windowEnd() float64  { return frameSeconds(w.seek + w.frames) }
func (w windowSpan) segmentEnd() float64 { return frameSeconds(w.seek + w.size) }

func frameSeconds(frames int) float64 { return float64(frames*hop) / audioprep.SampleRate }

// silenceCut is the outcome of the hallucination check on one window.
type silenceCut struct {
	segs []segment // the segments kept
	next int       // where the next window starts
	skip bool      // drop the whole window (leading silence before a hallucination)
}

// cutHallucinations applies transcribe()'s "skip silence before possible
// hallucinations" block to a window's timed segments. next is where the
// window would otherwise be followed, singleEnding whether its tokens end
// on a single timestamp, lastSpeech where speech ended before it.
func cutHallucinations(segs []segment, w windowSpan, next int, singleEnding bool, lastSpeech, threshold float64) silenceCut {
	if !singleEnding {
		if end, ok := speechEnd(segs); ok && end > w.offset() {
			next = w.seek + w.size
			if w.windowEnd()-end > threshold {
				next = framesAt(end)
			}
		}
	}
	if first := firstTimed(segs); first != nil && isAnomaly(first) {
		if gap := first.start - w.offset(); gap > threshold {
			return silenceCut{next: w.seek + framesAt(gap), skip: true}
		}
	}
	lastEnd := lastSpeech
	for i := range segs {
		s := &segs[i]
		if len(s.words) == 0 {
			continue
		}
		if isAnomaly(s) && silenceAround(s, firstTimed(segs[i+1:]), w, lastEnd, threshold) {
			next = framesAt(math.Max(w.offset()+1, s.start))
			if frameSeconds(w.content)-s.end < threshold {
				next = w.content
			}
			return silenceCut{segs: segs[:i], next: next}
		}
		lastEnd = s.end
	}
	return silenceCut{segs: segs, next: next}
}

// silenceAround says whether the anomalous segment s has silence (or the
// window's edge) before it and silence or another anomaly after it.
func silenceAround(s, following *segment, w windowSpan, lastEnd, threshold float64) bool {
	nextStart := w.segmentEnd()
	if following != nil {
		nextStart = following.words[0].start
	}
	before := s.start-lastEnd > threshold || s.start < threshold || s.start-w.offset() < 2
	after := nextStart-s.end > threshold || isAnomaly(following) || w.windowEnd()-s.end < 2
	return before && after
}

// firstTimed is the first segment with words, or nil.
func firstTimed(segs []segment) *segment {
	for i := range segs {
		if len(segs[i].words) > 0 {
			return &segs[i]
		}
	}
	return nil
}

// speechEnd is openai-whisper's get_end: the last word's end, else the
// last segment's end; false without segments.
func speechEnd(segs []segment) (float64, bool) {
	for i := len(segs) - 1; i >= 0; i-- {
		if n := len(segs[i].words); n > 0 {
			return segs[i].words[n-1].end, true
		}
	}
	if len(segs) == 0 {
		return 0, false
	}
	return segs[len(segs)-1].end, true
}

// isAnomaly is is_segment_anomaly: the anomaly scores of its first eight
// words that are not punctuation add up to 3, or to about one per word.
func isAnomaly(s *segment) bool {
	if s == nil || len(s.words) == 0 {
		return false
	}
	var score float64
	n := 0
	for _, w := range s.words {
		if strings.Contains(punctuation, w.text) { // Python's `in` on a string: "" counts too
			continue
		}
		if n == 8 {
			break
		}
		score += wordAnomaly(w)
		n++
	}
	return score >= 3 || score+0.01 >= float64(n)
}

// wordAnomaly is word_anomaly_score: improbable, very short and very long
// words score.
func wordAnomaly(w word) float64 {
	var score float64
	if w.probability < 0.15 {
		score++
	}
	d := w.end - w.start
	if d < 0.133 {
		score += (0.133 - d) * 15
	}
	if d > 2 {
		score += d - 2
	}
	return score
}
