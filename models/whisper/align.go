package whisper

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/edgeinfer/edgeinfer/engine"
	"github.com/edgeinfer/edgeinfer/tokenize/hf"
)

// Word timestamps, as openai-whisper's timing.py computes them
// (find_alignment, merge_punctuations, add_word_timestamps), from the
// cross-attention weights a timestamped export's decoder returns.

const (
	// medianFilterWidth is Whisper's default medfilt_width (and
	// transformers.js's fallback when config.json has no median_filter_width).
	medianFilterWidth = 7
	// secondsPerPosition is one encoder position: two 10 ms mel hops.
	secondsPerPosition = 0.02
	// prependPunctuations and appendPunctuations are add_word_timestamps'
	// defaults: marks merged into the following and the preceding word.
	prependPunctuations = "\"'“¿([{-"
	appendPunctuations  = "\"'.。,，!！?？:：”)]}、"
	sentenceEndMarks    = ".。!！?？"
	// maxMedianWordDuration caps the median word duration used to clamp
	// overlong words.
	maxMedianWordDuration = 0.7
	// asciiPunctuation is Python's string.punctuation.
	asciiPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	// eotText is how <|endoftext|> decodes; it closes the token list the
	// word splitter sees, as find_alignment appends it.
	eotText = "<|endoftext|>"
)

// alignInput is one decoded 30 s window, ready for word timing.
type alignInput struct {
	// Attention holds the alignment heads' cross-attention weights, softmax'd
	// over the encoder positions as the decoder outputs them:
	// [head][row][position]. The rows are one forced decoder pass over the
	// window's start sequence (<|startoftranscript|>, language, task),
	// <|notimestamps|>, the text tokens and <|endoftext|> — every row of that
	// pass, since each head is normalized over all of them.
	Attention [][][]float32
	// TextRow is the row that predicts the first text token: the position
	// of <|notimestamps|>, i.e. the start sequence's length.
	TextRow int
	// MelFrames is the window's real audio in mel frames (3000 for a full
	// window); the first MelFrames/2 encoder positions are aligned.
	MelFrames int
	// Pieces holds each text token's bytes, in order: no timestamp or
	// special tokens. A byte-level BPE piece may hold part of a character.
	Pieces [][]byte
	// SplitOnCharacters splits words at character boundaries, for
	// languages written without spaces (see splitsOnCharacters).
	SplitOnCharacters bool
	// TimeOffset is the window's start in seconds (seek × 0.01).
	TimeOffset float64
	// Segments are the window's segments in order; their Tokens add up to
	// len(Pieces).
	Segments []alignSegment
	// LastSpeech is where the previous window's speech ended, in seconds
	// (add_word_timestamps' last_speech_timestamp; 0 at the start).
	LastSpeech float64
	// TokenProbs, when set, holds each text token's probability in the
	// forced pass (one per piece); a word's probability is its tokens'
	// mean, as find_alignment's.
	TokenProbs []float64
}

// alignSegment is one segment of a window: its text-token count and its
// times in seconds (absolute), before and after word timing.
type alignSegment struct {
	Tokens     int
	Start, End float64
	Words      []engine.TranscriptionWord
	// Probs holds each word's probability (0 without TokenProbs).
	Probs []float64
}

// wordTiming is one word of the alignment: its text, how many tokens it
// spans and its times in seconds from the window's start.
type wordTiming struct {
	word        string
	tokens      int
	start, end  float64
	probability float64
}

// splitsOnCharacters reports whether Whisper splits a language's words at
// character boundaries instead of spaces.
func splitsOnCharacters(language string) bool {
	switch language {
	case "zh", "ja", "th", "lo", "my", "yue":
		return true
	}
	return false
}

// alignWords times the words of one window. It returns the segments with
// their words and adjusted times, and where speech now last ended. The
// input's shapes come from a model file, so a mismatch is an error, never
// a panic.
func alignWords(in *alignInput) ([]alignSegment, float64, error) {
	if err := in.check(); err != nil {
		return nil, in.LastSpeech, err
	}
	segments := make([]alignSegment, len(in.Segments))
	copy(segments, in.Segments)
	if len(in.Pieces) == 0 {
		return segments, in.LastSpeech, nil
	}
	words := findAlignment(in)
	median, maxDuration := wordDurationLimits(words)
	clampSentenceEnds(words, maxDuration)
	mergePunctuations(words, prependPunctuations, appendPunctuations)
	last := assignWords(segments, words, in.TimeOffset, in.LastSpeech, median, maxDuration)
	return segments, last, nil
}

// check refuses shapes the alignment cannot use.
func (in *alignInput) check() error {
	total := 0
	for _, s := range in.Segments {
		if s.Tokens < 0 {
			return errors.New("whisper: negative segment token count")
		}
		total += s.Tokens
	}
	if total != len(in.Pieces) {
		return fmt.Errorf("whisper: segments hold %d text tokens, pieces %d", total, len(in.Pieces))
	}
	if in.TokenProbs != nil && len(in.TokenProbs) != len(in.Pieces) {
		return fmt.Errorf("whisper: %d token probabilities for %d pieces", len(in.TokenProbs), len(in.Pieces))
	}
	if len(in.Pieces) == 0 {
		return nil
	}
	positions := in.MelFrames / 2
	if len(in.Attention) == 0 || positions <= 0 {
		return errors.New("whisper: no alignment-head attention or no audio frames")
	}
	rows := in.TextRow + len(in.Pieces) + 1
	for _, head := range in.Attention {
		if in.TextRow < 0 || len(head) < rows {
			return fmt.Errorf("whisper: cross-attention has %d rows, want at least %d", len(head), rows)
		}
		for _, row := range head {
			if len(row) < positions {
				return fmt.Errorf("whisper: cross-attention has %d positions, want at least %d", len(row), positions)
			}
		}
	}
	return nil
}

// findAlignment is find_alignment: the token-by-position matrix, its DTW
// path, and the path's jumps read at the word boundaries.
func findAlignment(in *alignInput) []wordTiming {
	split := splitTokensOnSpaces
	if in.SplitOnCharacters {
		split = splitTokensOnUnicode
	}
	groups := split(in.Pieces)
	if len(groups) <= 1 { // only <|endoftext|>
		return nil
	}
	matrix := alignmentMatrix(in.Attention, in.TextRow, len(in.Pieces)+1, in.MelFrames/2)
	negate(matrix)
	jumps := jumpTimes(dtw(matrix))
	words := make([]wordTiming, 0, len(groups)-1)
	boundary := 0
	for _, g := range groups[:len(groups)-1] {
		words = append(words, wordTiming{word: g.text, tokens: g.tokens, start: jumps[boundary], end: jumps[boundary+g.tokens],
			probability: meanProbability(in.TokenProbs, boundary, boundary+g.tokens)})
		boundary += g.tokens
	}
	return words
}

// meanProbability is the mean of probs[from:to], or 0 without probs.
func meanProbability(probs []float64, from, to int) float64 {
	if probs == nil || to <= from {
		return 0
	}
	var sum float64
	for _, p := range probs[from:to] {
		sum += p
	}
	return sum / float64(to-from)
}

// alignmentMatrix returns the rows [first, first+n) of the heads'
// attention over the first `positions` encoder positions, each head
// renormalized over those positions (softmax of the truncated scores, as
// find_alignment takes it), standardized over all its rows per position,
// median-filtered along positions, then averaged over heads.
func alignmentMatrix(attention [][][]float32, first, n, positions int) [][]float32 {
	matrix := make([][]float32, n)
	for i := range matrix {
		matrix[i] = make([]float32, positions)
	}
	filtered := make([]float32, positions)
	for _, head := range attention {
		rows := make([][]float32, len(head))
		for i, row := range head {
			rows[i] = renormalized(row, positions)
		}
		standardize(rows)
		for i := range matrix {
			medianFilter(filtered, rows[first+i], medianFilterWidth)
			for j, v := range filtered {
				matrix[i][j] += v
			}
		}
	}
	scale := float32(len(attention))
	for _, row := range matrix {
		for j := range row {
			row[j] /= scale
		}
	}
	return matrix
}

// renormalized returns a copy of the first `positions` weights of a
// softmax'd row, rescaled to sum to one when that cut drops some:
// softmax(x)[:k]/Σ softmax(x)[:k] = softmax(x[:k]).
func renormalized(row []float32, positions int) []float32 {
	out := make([]float32, positions)
	copy(out, row)
	if positions == len(row) {
		return out
	}
	var sum float64
	for _, v := range out {
		sum += float64(v)
	}
	if sum > 0 {
		for j, v := range out {
			out[j] = float32(float64(v) / sum)
		}
	}
	return out
}

// standardize subtracts each position's mean over the rows and divides by
// its standard deviation (population, as torch.std_mean unbiased=False).
// Where all rows agree (std 0) it leaves 0, where Whisper would get NaN.
func standardize(rows [][]float32) {
	n := float64(len(rows))
	for j := range rows[0] {
		var sum float64
		for _, r := range rows {
			sum += float64(r[j])
		}
		mean := sum / n
		var sq float64
		for _, r := range rows {
			d := float64(r[j]) - mean
			sq += d * d
		}
		std := math.Sqrt(sq / n)
		for _, r := range rows {
			if std == 0 {
				r[j] = 0
				continue
			}
			r[j] = float32((float64(r[j]) - mean) / std)
		}
	}
}

// medianFilter writes the running median of src over a window of odd
// width to dst, reflecting at the edges (torch's "reflect": the edge
// value is not repeated). Like Whisper it copies src unchanged when the
// row is too short to reflect.
func medianFilter(dst, src []float32, width int) {
	half := width / 2
	n := len(src)
	if n <= half {
		copy(dst, src)
		return
	}
	window := make([]float32, width)
	for i := range src {
		for k := -half; k <= half; k++ {
			window[k+half] = src[mirror(i+k, n)]
		}
		insertionSort(window)
		dst[i] = window[half]
	}
}

// mirror maps an index outside [0, n) back inside by mirroring about the
// end elements; n > 1 and the index is at most n-1 away from the range.
func mirror(i, n int) int {
	if i < 0 {
		return -i
	}
	if i >= n {
		return 2*(n-1) - i
	}
	return i
}

func insertionSort(a []float32) {
	for i := 1; i < len(a); i++ {
		v := a[i]
		j := i
		for ; j > 0 && a[j-1] > v; j-- {
			a[j] = a[j-1]
		}
		a[j] = v
	}
}

func negate(matrix [][]float32) {
	for _, row := range matrix {
		for j := range row {
			row[j] = -row[j]
		}
	}
}

// dtw is Whisper's dynamic time warping (dtw_cpu + backtrace): the
// cheapest monotonic path through the cost matrix from its first cell to
// its last, moving diagonally, down (next token) or right (next position).
// Ties go right, then down, exactly as Whisper and transformers.js break
// them. It returns the path's token and position indices.
func dtw(x [][]float32) (tokens, positions []int) {
	n, m := len(x), len(x[0])
	cost := make([]float64, (n+1)*(m+1))
	trace := make([]int8, (n+1)*(m+1))
	at := func(i, j int) int { return i*(m+1) + j }
	for k := range cost {
		cost[k] = math.Inf(1)
	}
	cost[0] = 0
	for j := 1; j <= m; j++ {
		for i := 1; i <= n; i++ {
			c0, c1, c2 := cost[at(i-1, j-1)], cost[at(i-1, j)], cost[at(i, j-1)]
			c, t := c2, int8(2)
			if c0 < c1 && c0 < c2 {
				c, t = c0, 0
			} else if c1 < c0 && c1 < c2 {
				c, t = c1, 1
			}
			cost[at(i, j)] = float64(x[i-1][j-1]) + c
			trace[at(i, j)] = t
		}
	}
	return backtrace(trace, n, m)
}

// backtrace walks the DTW trace from the last cell to the first.
func backtrace(trace []int8, n, m int) (tokens, positions []int) {
	i, j := n, m
	for i > 0 || j > 0 {
		tokens = append(tokens, i-1)
		positions = append(positions, j-1)
		switch {
		case i == 0:
			j--
		case j == 0:
			i--
		case trace[i*(m+1)+j] == 0:
			i, j = i-1, j-1
		case trace[i*(m+1)+j] == 1:
			i--
		default:
			j--
		}
	}
	reverse(tokens)
	reverse(positions)
	return tokens, positions
}

func reverse(a []int) {
	for i, j := 0, len(a)-1; i < j; i, j = i+1, j-1 {
		a[i], a[j] = a[j], a[i]
	}
}

// jumpTimes returns, for each token row, the time in seconds at which the
// DTW path first reaches it.
func jumpTimes(tokens, positions []int) []float64 {
	var times []float64
	for k := range tokens {
		if k == 0 || tokens[k] != tokens[k-1] {
			times = append(times, float64(positions[k])/(1/secondsPerPosition))
		}
	}
	return times
}

// tokenGroup is a run of tokens decoded together: a word, or a piece of
// one.
type tokenGroup struct {
	text    string
	tokens  int
	special bool // <|endoftext|>
}

// splitTokensOnUnicode groups the tokens (and a closing <|endoftext|>) so
// that each group decodes to whole characters: a group closes at the first
// token after which its decoded text has no U+FFFD other than those the
// full text has at the same place (Whisper's split_tokens_on_unicode, which
// looks at the first U+FFFD only; see replacementsInFull).
func splitTokensOnUnicode(pieces [][]byte) []tokenGroup {
	var all []byte
	for _, p := range pieces {
		all = append(all, p...)
	}
	full := decodeReplacing(append(all, eotText...))
	var groups []tokenGroup
	var current []byte
	count, offset := 0, 0
	for i := 0; i <= len(pieces); i++ {
		if i < len(pieces) {
			current = append(current, pieces[i]...)
		} else {
			current = append(current, eotText...)
		}
		count++
		decoded := decodeReplacing(current)
		if !replacementsInFull(decoded, full, offset) {
			continue
		}
		groups = append(groups, tokenGroup{text: string(decoded), tokens: count, special: i == len(pieces)})
		current, count, offset = current[:0], 0, offset+len(decoded)
	}
	return groups
}

// replacementsInFull reports whether every U+FFFD of decoded stands where
// full, read from offset, has one too. Whisper checks only the first: a
// token holding a stray byte and the first bytes of a character then
// closes its group, the character's remaining bytes read as U+FFFD in the
// next, and the character is lost from the words.
func replacementsInFull(decoded, full []rune, offset int) bool {
	for i, r := range decoded {
		if r == utf8.RuneError && (offset+i >= len(full) || full[offset+i] != utf8.RuneError) {
			return false
		}
	}
	return true
}

// splitTokensOnSpaces merges the unicode groups into words: a group starts
// a new word when it is special, starts with a space or is punctuation
// (Whisper's split_tokens_on_spaces).
func splitTokensOnSpaces(pieces [][]byte) []tokenGroup {
	var words []tokenGroup
	for _, g := range splitTokensOnUnicode(pieces) {
		trimmed := strings.TrimFunc(g.text, isPythonSpace)
		if g.special || strings.HasPrefix(g.text, " ") || strings.Contains(asciiPunctuation, trimmed) || len(words) == 0 {
			words = append(words, g)
			continue
		}
		last := &words[len(words)-1]
		last.text += g.text
		last.tokens += g.tokens
	}
	return words
}

// isPythonSpace is Python's str.isspace for one character, which is
// Go's unicode.IsSpace plus the four ASCII separators U+001C–U+001F.
func isPythonSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// decodeReplacing decodes UTF-8 as Python's errors="replace" does: one
// U+FFFD for each maximal ill-formed subpart, so a truncated multi-byte
// character gives one replacement, not one per byte.
func decodeReplacing(b []byte) []rune { return []rune(hf.LossyUTF8(b)) }

// wordDurationLimits returns the median of the nonzero word durations,
// capped at 0.7 s, and twice that: the bounds add_word_timestamps clamps
// overlong words to.
func wordDurationLimits(words []wordTiming) (median, maxDuration float64) {
	var durations []float64
	for _, w := range words {
		if d := w.end - w.start; d != 0 {
			durations = append(durations, d)
		}
	}
	if len(durations) > 0 {
		sort.Float64s(durations)
		mid := len(durations) / 2
		median = durations[mid]
		if len(durations)%2 == 0 {
			median = (durations[mid-1] + durations[mid]) / 2
		}
	}
	median = math.Min(maxMedianWordDuration, median)
	return median, 2 * median
}

// clampSentenceEnds shortens an overlong sentence-ending mark to its start
// plus maxDuration, and an overlong word after one to its end minus it.
func clampSentenceEnds(words []wordTiming, maxDuration float64) {
	if maxDuration == 0 { // no nonzero durations
		return
	}
	for i := 1; i < len(words); i++ {
		w := &words[i]
		if w.end-w.start <= maxDuration {
			continue
		}
		if strings.Contains(sentenceEndMarks, w.word) {
			w.end = w.start + maxDuration
		} else if strings.Contains(sentenceEndMarks, words[i-1].word) {
			w.start = w.end - maxDuration
		}
	}
}

// mergePunctuations moves opening marks (a word that is a space and one of
// prepended) into the word after them, then closing marks (a word that is
// one of appended) into the word before them, leaving empty words behind
// that keep their place (merge_punctuations). Membership is Python's
// substring test, as Whisper's.
func mergePunctuations(words []wordTiming, prepended, appended string) {
	j := len(words) - 1
	for i := len(words) - 2; i >= 0; i-- {
		prev, next := &words[i], &words[j]
		if strings.HasPrefix(prev.word, " ") && strings.Contains(prepended, strings.TrimFunc(prev.word, isPythonSpace)) {
			next.word = prev.word + next.word
			next.tokens += prev.tokens
			prev.word, prev.tokens = "", 0
		} else {
			j = i
		}
	}
	i := 0
	for j := 1; j < len(words); j++ {
		prev, next := &words[i], &words[j]
		if !strings.HasSuffix(prev.word, " ") && strings.Contains(appended, next.word) {
			prev.word += next.word
			prev.tokens += next.tokens
			next.word, next.tokens = "", 0
		} else {
			i = j
		}
	}
}

// assignWords hands the words to the segments by token count and applies
// add_word_timestamps' fixes at segment edges: a first word after a pause
// longer than the usual word, and first or last words reaching far past
// the segment's own timestamps. It returns the end of the last speech.
func assignWords(segments []alignSegment, words []wordTiming, offset, lastSpeech, median, maxDuration float64) float64 {
	next := 0
	for s := range segments {
		seg := &segments[s]
		seg.Words, seg.Probs = nil, nil
		for saved := 0; next < len(words) && saved < seg.Tokens; next++ {
			w := words[next]
			if w.word != "" {
				seg.Words = append(seg.Words, engine.TranscriptionWord{Word: w.word, Start: round2(offset + w.start), End: round2(offset + w.end)})
				seg.Probs = append(seg.Probs, w.probability)
			}
			saved += w.tokens
		}
		if len(seg.Words) == 0 {
			continue
		}
		shortenAfterPause(seg.Words, lastSpeech, median, maxDuration)
		fitSegmentEdges(seg, median)
		lastSpeech = seg.End
	}
	return lastSpeech
}

// shortenAfterPause keeps the first (and second) word after a pause from
// stretching back over the silence: no longer than maxDuration.
func shortenAfterPause(w []engine.TranscriptionWord, lastSpeech, median, maxDuration float64) {
	long := w[0].End-w[0].Start > maxDuration || (len(w) > 1 && w[1].End-w[0].Start > 2*maxDuration)
	if w[0].End-lastSpeech <= 4*median || !long {
		return
	}
	if len(w) > 1 && w[1].End-w[1].Start > maxDuration {
		boundary := math.Max(w[1].End/2, w[1].End-maxDuration)
		w[0].End, w[1].Start = boundary, boundary
	}
	w[0].Start = math.Max(0, w[0].End-maxDuration)
}

// fitSegmentEdges prefers the segment's timestamps where its first or last
// word reaches more than half a second past them, and otherwise moves the
// segment's edges to its words.
func fitSegmentEdges(seg *alignSegment, median float64) {
	first, last := &seg.Words[0], &seg.Words[len(seg.Words)-1]
	if seg.Start < first.End && seg.Start-0.5 > first.Start {
		first.Start = math.Max(0, math.Min(first.End-median, seg.Start))
	} else {
		seg.Start = first.Start
	}
	if seg.End > last.Start && seg.End+0.5 < last.End {
		last.End = math.Max(last.Start+median, seg.End)
	} else {
		seg.End = last.End
	}
}

// round2 rounds to hundredths of a second, as Whisper's round(t, 2).
func round2(t float64) float64 {
	return math.Round(t*100) / 100
}
