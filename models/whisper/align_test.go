package whisper

import (
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
)

// The reference below is openai-whisper's timing.py written out plainly
// in float64, from the scores (pre-softmax) rather than from the weights
// the export returns: softmax over the kept positions, std_mean over the
// token rows, reflect-pad + sorted windows for the median, mean over
// heads, rows [len(sot sequence) : -1], then dtw_cpu and backtrace with
// their full cost and trace matrices.

func refSoftmax(x []float64) []float64 {
	hi := math.Inf(-1)
	for _, v := range x {
		hi = math.Max(hi, v)
	}
	out := make([]float64, len(x))
	var sum float64
	for i, v := range x {
		out[i] = math.Exp(v - hi)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// refMedian is median_filter: F.pad(mode="reflect") then the middle of
// each sorted window of the unfolded row.
func refMedian(x []float64, width int) []float64 {
	pad := width / 2
	if len(x) <= pad {
		return append([]float64(nil), x...)
	}
	padded := make([]float64, 0, len(x)+2*pad)
	for k := pad; k >= 1; k-- {
		padded = append(padded, x[k])
	}
	padded = append(padded, x...)
	for k := 1; k <= pad; k++ {
		padded = append(padded, x[len(x)-1-k])
	}
	out := make([]float64, len(x))
	for i := range out {
		w := append([]float64(nil), padded[i:i+width]...)
		sort.Float64s(w)
		out[i] = w[pad]
	}
	return out
}

// refMatrix is find_alignment's matrix from the alignment heads' scores
// [head][row][1500] of a forced pass whose last row is <|endoftext|>.
func refMatrix(scores [][][]float64, sotLen, melFrames int) [][]float64 {
	keep := melFrames / 2
	rows := len(scores[0])
	var heads [][][]float64
	for _, head := range scores {
		w := make([][]float64, rows)
		for r := range w {
			w[r] = refSoftmax(head[r][:keep])
		}
		for j := 0; j < keep; j++ {
			var mean, sq float64
			for r := range w {
				mean += w[r][j]
			}
			mean /= float64(rows)
			for r := range w {
				sq += (w[r][j] - mean) * (w[r][j] - mean)
			}
			std := math.Sqrt(sq / float64(rows))
			for r := range w {
				w[r][j] = (w[r][j] - mean) / std
			}
		}
		for r := range w {
			w[r] = refMedian(w[r], 7)
		}
		heads = append(heads, w)
	}
	matrix := make([][]float64, 0, rows)
	for r := sotLen; r < rows-1; r++ {
		row := make([]float64, keep)
		for j := range row {
			for _, w := range heads {
				row[j] += w[r][j] / float64(len(heads))
			}
		}
		matrix = append(matrix, row)
	}
	return matrix
}

// refDTW is dtw_cpu + backtrace on -matrix is the caller's job; this takes
// the cost matrix as dtw does.
func refDTW(x [][]float64) (text, time []int) {
	n, m := len(x), len(x[0])
	cost := make([][]float64, n+1)
	trace := make([][]int, n+1)
	for i := range cost {
		cost[i] = make([]float64, m+1)
		trace[i] = make([]int, m+1)
		for j := range cost[i] {
			cost[i][j] = math.Inf(1)
			trace[i][j] = -1
		}
	}
	cost[0][0] = 0
	for j := 1; j <= m; j++ {
		for i := 1; i <= n; i++ {
			c0, c1, c2 := cost[i-1][j-1], cost[i-1][j], cost[i][j-1]
			var c float64
			var t int
			if c0 < c1 && c0 < c2 {
				c, t = c0, 0
			} else if c1 < c0 && c1 < c2 {
				c, t = c1, 1
			} else {
				c, t = c2, 2
			}
			cost[i][j] = x[i-1][j-1] + c
			trace[i][j] = t
		}
	}
	for j := range trace[0] {
		trace[0][j] = 2
	}
	for i := range trace {
		trace[i][0] = 1
	}
	var path [][2]int
	for i, j := n, m; i > 0 || j > 0; {
		path = append(path, [2]int{i - 1, j - 1})
		switch trace[i][j] {
		case 0:
			i, j = i-1, j-1
		case 1:
			i--
		case 2:
			j--
		}
	}
	for k := len(path) - 1; k >= 0; k-- {
		text = append(text, path[k][0])
		time = append(time, path[k][1])
	}
	return text, time
}

func randomMatrix(rng *rand.Rand, n, m int, levels int) [][]float32 {
	x := make([][]float32, n)
	for i := range x {
		x[i] = make([]float32, m)
		for j := range x[i] {
			if levels > 0 { // few distinct values: many ties
				x[i][j] = float32(rng.IntN(levels) - levels/2)
			} else {
				x[i][j] = float32(rng.NormFloat64())
			}
		}
	}
	return x
}

func to64(x [][]float32) [][]float64 {
	out := make([][]float64, len(x))
	for i, row := range x {
		out[i] = make([]float64, len(row))
		for j, v := range row {
			out[i][j] = float64(v)
		}
	}
	return out
}

var dtwShapes = [][3]int{{1, 1, 0}, {1, 9, 0}, {9, 1, 0}, {2, 2, 2}, {7, 13, 0}, {7, 13, 2}, {12, 40, 3}, {40, 12, 2}, {30, 1500, 0}, {25, 700, 2}}

func TestDTWMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range dtwShapes {
		x := randomMatrix(rng, s[0], s[1], s[2])
		gotText, gotTime := dtw(x)
		wantText, wantTime := refDTW(to64(x))
		if !reflect.DeepEqual(gotText, wantText) || !reflect.DeepEqual(gotTime, wantTime) {
			t.Errorf("%v: path differs from the reference\n got %v %v\nwant %v %v", s, gotText, gotTime, wantText, wantTime)
		}
	}
}

func TestMedianFilterMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 31, 1500} {
		for _, width := range []int{1, 3, 7} {
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(rng.IntN(9)) - 4 + float32(rng.NormFloat64())*float32(i%2)
			}
			got := make([]float32, n)
			medianFilter(got, src, width)
			want := refMedian(to64([][]float32{src})[0], width)
			for i := range got {
				if float64(got[i]) != want[i] {
					t.Fatalf("n=%d width=%d: [%d] = %v, reference %v", n, width, i, got[i], want[i])
				}
			}
		}
	}
}

// planted is a forced pass's alignment-head scores with a known answer:
// text row k attends to the positions [bounds[k], bounds[k+1]), the
// <|endoftext|> row to the 20 from the last bound, and the start rows
// anywhere, plus noise.
type planted struct {
	scores    [][][]float64 // [head][row][1500]
	attention [][][]float32 // softmax over all 1500 positions, as exported
}

func plant(rng *rand.Rand, heads, sotLen int, bounds []int, noise float64) planted {
	const positions = 1500
	n := len(bounds) // text tokens + <|endoftext|>
	rows := sotLen + 1 + n
	end := func(k int) int {
		if k+1 < n {
			return bounds[k+1]
		}
		return bounds[k] + 20
	}
	var p planted
	for h := 0; h < heads; h++ {
		var sc [][]float64
		var at [][]float32
		for r := 0; r < rows; r++ {
			row := make([]float64, positions)
			k := r - sotLen // row sotLen predicts text token 0
			for j := range row {
				row[j] = noise * rng.NormFloat64()
				if k >= 0 && k < n && j >= bounds[k] && j < end(k) {
					row[j] += 4
				}
			}
			sc = append(sc, row)
			w := refSoftmax(row)
			a := make([]float32, positions)
			for j, v := range w {
				a[j] = float32(v)
			}
			at = append(at, a)
		}
		p.scores = append(p.scores, sc)
		p.attention = append(p.attention, at)
	}
	return p
}

func TestAlignmentMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	bounds := []int{10, 30, 37, 60, 95, 110, 140, 171, 200, 260, 300, 333, 380}
	for _, melFrames := range []int{3000, 1600, 777, 9} {
		p := plant(rng, 4, 3, bounds, 0.7)
		n := len(bounds) // rows compared: the text tokens and <|endoftext|>
		got := alignmentMatrix(p.attention, 3, n, melFrames/2)
		want := refMatrix(p.scores, 3, melFrames)
		var worst float64
		for i := range want {
			for j := range want[i] {
				worst = math.Max(worst, math.Abs(float64(got[i][j])-want[i][j]))
			}
		}
		if worst > 2e-5 {
			t.Errorf("melFrames %d: matrix differs from the reference by %g", melFrames, worst)
		}
		negate(got)
		gotText, gotTime := dtw(got)
		for i := range want {
			for j := range want[i] {
				want[i][j] = -want[i][j]
			}
		}
		wantText, wantTime := refDTW(want)
		if !reflect.DeepEqual(gotText, wantText) || !reflect.DeepEqual(gotTime, wantTime) {
			t.Errorf("melFrames %d: DTW path differs from the reference's", melFrames)
		}
		if melFrames == 3000 { // the path finds the planted bounds
			jumps := jumpTimes(gotText, gotTime)
			if jumps[0] != 0 {
				t.Errorf("the path starts at %v s, not 0", jumps[0])
			}
			// The median filter may move the edge of a block narrower than
			// its width by a position.
			for k := 1; k < len(bounds); k++ {
				b := bounds[k]
				if math.Abs(jumps[k]-float64(b)*0.02) > 0.02+1e-9 {
					t.Errorf("token %d starts at %.2f s, planted at %.2f s", k, jumps[k], float64(b)*0.02)
				}
			}
		}
	}
}

func TestDecodeReplacing(t *testing.T) {
	// Expected counts of U+FFFD: Python's bytes.decode("utf-8", "replace")
	// and the Unicode Standard's §3.9 examples of maximal subparts.
	for _, c := range []struct {
		in   string
		want []rune
	}{
		{"\xe4\xbd", []rune{0xfffd}},
		{"\xe4\xbdA", []rune{0xfffd, 'A'}},
		{"\xed\xa0\x80", []rune{0xfffd, 0xfffd, 0xfffd}},
		{"\xf0\x9f\x98", []rune{0xfffd}},
		{"\xc0\xaf", []rune{0xfffd, 0xfffd}},
		{"\xf4\x90\x80\x80", []rune{0xfffd, 0xfffd, 0xfffd, 0xfffd}},
		{"\xe0\x80\xaf", []rune{0xfffd, 0xfffd, 0xfffd}},
		{"\xf0\x9f\x98\x80", []rune{0x1f600}},
		{"\xef\xbf\xbd", []rune{0xfffd}},
		{"\xe1\x80\xe2\xf0\x91\x92\xf1\xbfA", []rune{0xfffd, 0xfffd, 0xfffd, 0xfffd, 'A'}},
	} {
		if got := decodeReplacing([]byte(c.in)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %U, want %U", c.in, got, c.want)
		}
	}
}

func pieces(p ...string) [][]byte {
	out := make([][]byte, len(p))
	for i, s := range p {
		out[i] = []byte(s)
	}
	return out
}

func groupTexts(groups []tokenGroup) (texts []string, tokens []int) {
	for _, g := range groups {
		texts = append(texts, g.text)
		tokens = append(tokens, g.tokens)
	}
	return texts, tokens
}

// The expected words follow Whisper's split_tokens_on_spaces by hand: a
// group starts a word when it starts with a space, is special, or is
// (a substring of) string.punctuation once stripped.
func TestSplitTokensOnSpaces(t *testing.T) {
	for _, c := range []struct {
		name   string
		pieces [][]byte
		words  []string
		tokens []int
	}{
		{"punctuation", pieces(" Hello", ",", " world", "!"),
			[]string{" Hello", ",", " world", "!", eotText}, []int{1, 1, 1, 1, 1}},
		{"contractions", pieces(" I", "'m", " sure", " they", " don", "'t"),
			[]string{" I'm", " sure", " they", " don't", eotText}, []int{2, 1, 1, 2, 1}},
		{"subwords", pieces(" un", "believ", "able", "."),
			[]string{" unbelievable", ".", eotText}, []int{3, 1, 1}},
		// "." opens a word and "14" has no space, so Whisper gives " 3" ".14".
		{"decimal", pieces(" 3", ".", "14", " percent"),
			[]string{" 3", ".14", " percent", eotText}, []int{1, 2, 1, 1}},
		{"split character", pieces(" caf", "\xc3", "\xa9", " au", " lait"),
			[]string{" café", " au", " lait", eotText}, []int{3, 1, 1, 1}},
		{"curly quotes", pieces(" “", "Hi", "”", " she", " said"),
			[]string{" “Hi”", " she", " said", eotText}, []int{3, 1, 1, 1}},
		// "..." is no substring of string.punctuation: it joins the word.
		{"leading word without space", pieces("Well", ",", " okay", "..."),
			[]string{"Well", ",", " okay...", eotText}, []int{1, 1, 2, 1}},
		{"empty", nil, []string{eotText}, []int{1}},
	} {
		words, tokens := groupTexts(splitTokensOnSpaces(c.pieces))
		if !reflect.DeepEqual(words, c.words) || !reflect.DeepEqual(tokens, c.tokens) {
			t.Errorf("%s: %q %v, want %q %v", c.name, words, tokens, c.words, c.tokens)
		}
	}
}

func TestSplitTokensOnUnicode(t *testing.T) {
	for _, c := range []struct {
		name   string
		pieces [][]byte
		words  []string
		tokens []int
	}{
		// 你 E4 BD A0, 好 E5 A5 BD, 世 E4 B8 96, 界 E7 95 8C
		{"chinese across pieces", pieces("\xe4\xbd\xa0\xe5", "\xa5\xbd", "\xe4\xb8\x96\xe7\x95\x8c", "。"),
			[]string{"你好", "世界", "。", eotText}, []int{2, 1, 1, 1}},
		{"japanese", pieces("こんにちは", "\xe3\x80", "\x81", "世界"),
			[]string{"こんにちは", "、", "世界", eotText}, []int{1, 2, 1, 1}},
		// A byte that is invalid in the full text too is a character of its own.
		{"genuine invalid byte", pieces("\xff", "a"),
			[]string{"\ufffd", "a", eotText}, []int{1, 1, 1}},
		// A character cut off at the end is U+FFFD in the full text too.
		{"truncated end", pieces("中", "\xe6\x96"),
			[]string{"中", "\ufffd", eotText}, []int{1, 1, 1}},
	} {
		words, tokens := groupTexts(splitTokensOnUnicode(c.pieces))
		if !reflect.DeepEqual(words, c.words) || !reflect.DeepEqual(tokens, c.tokens) {
			t.Errorf("%s: %q %v, want %q %v", c.name, words, tokens, c.words, c.tokens)
		}
	}
}

// wantWord is an expected engine.TranscriptionWord.
type wantWord struct {
	Word       string
	Start, End float64
}

func timings(words ...any) []wordTiming {
	var out []wordTiming
	for i := 0; i < len(words); i += 2 {
		out = append(out, wordTiming{word: words[i].(string), tokens: words[i+1].(int)})
	}
	return out
}

func TestMergePunctuations(t *testing.T) {
	for _, c := range []struct {
		in, want []wordTiming
	}{
		{timings(" Hello", 1, ",", 1, " world", 1, "!", 1),
			timings(" Hello,", 2, "", 0, " world!", 2, "", 0)},
		{timings(" said", 1, " “", 1, " go", 1, "”", 1, ".", 1),
			timings(" said", 1, "", 0, " “ go”.", 4, "", 0, "", 0)},
		// "(" prepends only with a leading space; "..." is no appended mark.
		{timings(" see", 1, " (", 1, " below", 1, ")", 1, "...", 1),
			timings(" see", 1, "", 0, " ( below)", 3, "", 0, "...", 1)},
		// Nothing attaches after a word that ends with a space.
		{timings(" a ", 1, ",", 1), timings(" a ", 1, ",", 1)},
	} {
		got := append([]wordTiming(nil), c.in...)
		mergePunctuations(got, prependPunctuations, appendPunctuations)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v:\n got %v\nwant %v", c.in, got, c.want)
		}
	}
}

func TestWordDurationLimits(t *testing.T) {
	words := []wordTiming{{start: 0, end: 0.2}, {start: 1, end: 1}, {start: 2, end: 2.6}, {start: 3, end: 3.3}, {start: 4, end: 4.5}}
	if median, max := wordDurationLimits(words); math.Abs(median-0.4) > 1e-12 || math.Abs(max-0.8) > 1e-12 {
		t.Errorf("median %v max %v, want 0.4 0.8 (zero durations left out, even count averaged)", median, max)
	}
	long := []wordTiming{{start: 0, end: 2}, {start: 2, end: 5}}
	if median, max := wordDurationLimits(long); median != 0.7 || max != 1.4 {
		t.Errorf("median %v max %v, want the 0.7 s cap", median, max)
	}
}

func TestClampSentenceEnds(t *testing.T) {
	words := []wordTiming{
		{word: " Stop", start: 0, end: 0.4},
		{word: ".", start: 0.4, end: 3},      // a long mark: end pulled in
		{word: " Then", start: 3, end: 6},    // long after a mark: start pushed on
		{word: " more", start: 6, end: 9},    // long, but no mark around: kept
		{word: " words", start: 9, end: 9.2}, // short: kept
	}
	clampSentenceEnds(words, 1)
	want := [][2]float64{{0, 0.4}, {0.4, 1.4}, {5, 6}, {6, 9}, {9, 9.2}}
	for i, w := range words {
		if math.Abs(w.start-want[i][0]) > 1e-12 || math.Abs(w.end-want[i][1]) > 1e-12 {
			t.Errorf("%q: %v–%v, want %v–%v", w.word, w.start, w.end, want[i][0], want[i][1])
		}
	}
}

// TestAssignWords checks add_word_timestamps' segment loop on hand-made
// timings, each expectation worked out from its rules.
func TestAssignWords(t *testing.T) {
	median, maxDur := 0.3, 0.6
	words := []wordTiming{
		{word: " After", tokens: 1, start: 1.0, end: 3.0}, // after a pause, 2 s long
		{word: " the", tokens: 1, start: 3.0, end: 4.0},   // 1 s long
		{word: "", tokens: 0},                             // emptied by a merge
		{word: " pause,", tokens: 2, start: 4.0, end: 4.3},
		{word: " next", tokens: 1, start: 4.3, end: 4.5}, // segment 2
		{word: " one", tokens: 1, start: 4.5, end: 6.0},
	}
	segments := []alignSegment{{Tokens: 4, Start: 10.5, End: 14.3}, {Tokens: 2, Start: 14.2, End: 15.2}}
	last := assignWords(segments, words, 10, 9.5, median, maxDur)
	// Segment 1: the first word ends 3.5 s after the last speech (> 4 ×
	// 0.3) and is longer than 0.6 s; the second is too, so both meet at
	// max(14/2, 14-0.6) = 13.4 and the first starts 0.6 s before: 12.8.
	// The segment starts at 10.5, not more than 0.5 s after 12.8: its
	// start becomes 12.8; its end 14.3 is the last word's.
	want1 := []wantWord{{" After", 12.8, 13.4}, {" the", 13.4, 14}, {" pause,", 14, 14.3}}
	// Segment 2: " next" ends 14.5, 0.2 s after 14.3: no pause. The segment
	// ends at 15.2, more than 0.5 s before " one" ends (16): its end is
	// pulled to max(14.5 + 0.3, 15.2) = 15.2.
	want2 := []wantWord{{" next", 14.3, 14.5}, {" one", 14.5, 15.2}}
	for i, want := range [][]wantWord{want1, want2} {
		got := segments[i].Words
		if len(got) != len(want) {
			t.Fatalf("segment %d: %v, want %v", i, got, want)
		}
		for k := range got {
			if got[k].Word != want[k].Word || math.Abs(got[k].Start-want[k].Start) > 1e-9 || math.Abs(got[k].End-want[k].End) > 1e-9 {
				t.Errorf("segment %d word %d: %v, want %v", i, k, got[k], want[k])
			}
		}
	}
	if math.Abs(segments[0].Start-12.8) > 1e-9 || math.Abs(segments[0].End-14.3) > 1e-9 || math.Abs(segments[1].End-15.2) > 1e-9 || math.Abs(last-15.2) > 1e-9 {
		t.Errorf("segments %v–%v, %v–%v, last speech %v", segments[0].Start, segments[0].End, segments[1].Start, segments[1].End, last)
	}
}

// TestAlignWords runs the whole window: planted attention for a sentence
// in two segments; the words come back at the planted positions, with
// punctuation merged and the segments' edges moved to their words.
func TestAlignWords(t *testing.T) {
	text := pieces(" The", " quick", " brown", " fox", ",", " it", " jumped", " over", ".", " “", "Why", "?”")
	// Token k is spoken from bounds[k] (positions of 20 ms); the last
	// bound is <|endoftext|>. Every block is wider than the median filter.
	bounds := []int{25, 40, 55, 72, 90, 98, 110, 130, 146, 154, 162, 172, 185}
	rng := rand.New(rand.NewPCG(7, 8))
	p := plant(rng, 3, 4, bounds, 0.3)
	in := &alignInput{
		// The audio ends 0.2 s after the last token: its last window.
		Attention: p.attention, TextRow: 4, MelFrames: 2 * 215, Pieces: text, TimeOffset: 30,
		Segments:   []alignSegment{{Tokens: 5, Start: 30.6, End: 31.8}, {Tokens: 7, Start: 31.8, End: 33.6}},
		LastSpeech: 30,
	}
	segments, last, err := alignWords(in)
	if err != nil {
		t.Fatal(err)
	}
	at := func(b int) float64 { return 30 + float64(b)*0.02 }
	// The path starts at 0, so " The" spans 30–30.8 s; the nonzero
	// durations' median is (0.32+0.34)/2 = 0.33 s, and as the segment's
	// start (30.6) is over 0.5 s after that, Whisper starts the word at
	// min(30.8 - 0.33, 30.6). " “Why?”": no space before "Why", and "?”" is
	// no ASCII punctuation, so the split already joins them.
	want := [][]wantWord{
		{{" The", 30.47, at(40)}, {" quick", at(40), at(55)}, {" brown", at(55), at(72)}, {" fox,", at(72), at(90)}},
		{{" it", at(98), at(110)}, {" jumped", at(110), at(130)}, {" over.", at(130), at(146)}, {" “Why?”", at(154), at(185)}},
	}
	for i := range want {
		got := segments[i].Words
		if len(got) != len(want[i]) {
			t.Fatalf("segment %d: %v, want %v", i, got, want[i])
		}
		for k := range got {
			if got[k].Word != want[i][k].Word || math.Abs(got[k].Start-want[i][k].Start) > 1e-9 || math.Abs(got[k].End-want[i][k].End) > 1e-9 {
				t.Errorf("segment %d word %d: %v, want %v", i, k, got[k], want[i][k])
			}
		}
	}
	// Merged marks keep the word's own times; the edges move to the words.
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if !near(segments[0].Start, 30.6) || !near(segments[0].End, at(90)) || !near(segments[1].Start, at(98)) || !near(segments[1].End, at(185)) || !near(last, at(185)) {
		t.Errorf("segments %v–%v, %v–%v; last speech %v", segments[0].Start, segments[0].End, segments[1].Start, segments[1].End, last)
	}
	if in.Segments[0].Words != nil {
		t.Error("alignWords changed its input's segments")
	}
}

func TestAlignWordsRefusesBadShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	good := func() *alignInput {
		p := plant(rng, 2, 3, []int{10, 20, 30}, 0.1)
		return &alignInput{Attention: p.attention, TextRow: 3, MelFrames: 3000, Pieces: pieces(" a", " b"), Segments: []alignSegment{{Tokens: 2}}}
	}
	if _, _, err := alignWords(good()); err != nil {
		t.Fatalf("good input refused: %v", err)
	}
	for name, spoil := range map[string]func(*alignInput){
		"token count":    func(in *alignInput) { in.Segments[0].Tokens = 3 },
		"negative count": func(in *alignInput) { in.Segments = []alignSegment{{Tokens: 3}, {Tokens: -1}} },
		"no heads":       func(in *alignInput) { in.Attention = nil },
		"no frames":      func(in *alignInput) { in.MelFrames = 1 },
		"too few rows":   func(in *alignInput) { in.TextRow = 5 },
		"negative row":   func(in *alignInput) { in.TextRow = -1 },
		"short rows":     func(in *alignInput) { in.Attention[1][5] = in.Attention[1][5][:100] },
		"too many frames": func(in *alignInput) {
			in.MelFrames = 3002
		},
	} {
		in := good()
		spoil(in)
		if _, _, err := alignWords(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	empty := &alignInput{Segments: []alignSegment{{Tokens: 0, Start: 1, End: 2}}, LastSpeech: 0.5}
	segments, last, err := alignWords(empty)
	if err != nil || len(segments) != 1 || segments[0].Words != nil || last != 0.5 {
		t.Errorf("a window without text: %v %v %v", segments, last, err)
	}
}
