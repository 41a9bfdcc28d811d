package whisper

import (
	"context"
	"math"
	"strings"
)

// wordTimer times the words of a window's segments (add_word_timestamps):
// by W5's alignment over the alignment heads' cross-attention when the
// export outputs it, else by spreading each segment's time over its words
// in proportion to their characters.
type wordTimer struct {
	t          *transcriber
	attention  bool // the decoder outputs cross_attentions.N and the model names alignment heads
	heads      int
	lastSpeech float64
}

// time sets the words (and adjusted times) of segs, the segments of the
// window at seek whose real audio is size frames.
func (w *wordTimer) time(ctx context.Context, segs []segment, window *audioWindow, seek, size int, lang string, o options) error {
	if !w.attention {
		for i := range segs {
			segs[i].words = spreadWords(segs[i])
		}
		return nil
	}
	v := w.t.vocab
	langID := int64(-1)
	if id, ok := v.byCode[lang]; ok && v.multilingual {
		langID = id
	}
	sot := v.sotSequence(langID, o.translate)
	prompt := append(append([]int64{}, sot...), v.noTimestamps)
	in := &alignInput{TextRow: len(sot), MelFrames: size, SplitOnCharacters: splitsOnCharacters(lang),
		TimeOffset: float64(seek*hop) / 16000, LastSpeech: w.lastSpeech}
	for _, s := range segs {
		n := 0
		for _, tok := range s.tokens {
			if tok < v.eot {
				prompt = append(prompt, tok)
				in.Pieces = append(in.Pieces, w.t.codec.bytes([]int64{tok}))
				n++
			}
		}
		in.Segments = append(in.Segments, alignSegment{Tokens: n, Start: s.start, End: s.end})
	}
	if len(in.Pieces) == 0 {
		return nil
	}
	prompt = append(prompt, v.eot)
	res, err := w.t.submit(ctx, &windowJob{window: window, prompt: prompt, align: true})
	if err != nil {
		return err
	}
	in.Attention = byHead(res.attention, w.heads)
	if n := in.TextRow + len(in.Pieces); n <= len(res.nextProbs) {
		in.TokenProbs = res.nextProbs[in.TextRow:n]
	}
	timed, last, err := alignWords(in)
	if err != nil {
		return err
	}
	w.lastSpeech = last
	for i := range segs {
		segs[i].start, segs[i].end = timed[i].Start, timed[i].End
		for k, tw := range timed[i].Words {
			segs[i].words = append(segs[i].words, word{text: tw.Word, start: tw.Start, end: tw.End, probability: timed[i].Probs[k]})
		}
	}
	return nil
}

// byHead turns the forced pass's weights, per position [heads × encoder
// positions], into [head][position of the pass][encoder position].
func byHead(rows [][]float32, heads int) [][][]float32 {
	if heads == 0 || len(rows) == 0 {
		return nil
	}
	enc := len(rows[0]) / heads
	out := make([][][]float32, heads)
	for h := range out {
		out[h] = make([][]float32, len(rows))
		for r, row := range rows {
			out[h][r] = row[h*enc : (h+1)*enc]
		}
	}
	return out
}

// spreadWords times a segment's words without attention: its span shared
// among the space-separated words by their length in characters.
func spreadWords(s segment) []word {
	fields := strings.Fields(s.text)
	total := 0
	for _, f := range fields {
		total += len([]rune(f))
	}
	var out []word
	at, span := s.start, s.end-s.start
	for _, f := range fields {
		d := span * float64(len([]rune(f))) / float64(total)
		out = append(out, word{text: " " + f, start: round2(at), end: round2(at + d)})
		at += d
	}
	return out
}

// framesAt is the mel frame of a time, as transcribe() rounds it.
func framesAt(seconds float64) int { return int(math.Round(seconds * 100)) }
