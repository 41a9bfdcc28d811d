package whisper

import (
	"bytes"
	"compress/zlib"
	"context"
	"slices"
	"strings"

	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/audioprep"
	"golang.org/x/sync/errgroup"
)

// options are a request's decoding options, defaults resolved.
type options struct {
	translate bool
	// language is a code the model knows, or "" to detect it (multilingual
	// models); English-only models ignore it.
	language              string
	initialPrompt, prefix string
	beams                 int
	conditionOnPrevious   bool
	temperatures          []float64
	// Thresholds; nil turns a check off. hallucinationSilence works only
	// with word timestamps from cross-attention (it needs the words'
	// probabilities).
	noSpeech, compressionRatio, logProb, hallucinationSilence *float64
	seed                                                      uint64
	wordTimestamps                                            bool
	// withoutTimestamps decodes after <|notimestamps|>, a segment per
	// window (engine.TranscriptionInput.WithoutTimestamps).
	withoutTimestamps bool
}

// textCodec turns text into Whisper's text tokens and back (textTokenizer;
// tests script it). bytes is decode's raw bytes, a character split across
// ids left cut.
type textCodec interface {
	encode(text string) []int64
	decode(ids []int64) string
	bytes(ids []int64) []byte
}

// segment is one decoded stretch, as openai-whisper's new_segment.
type segment struct {
	seek                                                    int // the window's start, in mel frames
	start, end                                              float64
	text                                                    string
	tokens                                                  []int64
	temperature, avgLogprob, compressionRatio, noSpeechProb float64
	words                                                   []word
}

// word is a timed word of a segment. probability is the mean of its
// tokens' probabilities in the alignment pass (0 when words are spread
// without one).
type word struct {
	text        string
	start, end  float64
	probability float64
}

// transcript is a transcription's result.
type transcript struct {
	language     string
	languageProb float64
	segments     []segment
}

// decoded is a window's accepted decoding and the temperature it took.
type decoded struct {
	windowResult
	temperature, compressionRatio float64
}

// transcriber runs openai-whisper's transcribe() loop for one request:
// sequential 30 s windows, each decoded (with temperature fallback)
// through submit, the next window starting where the last complete
// segment ended.
type transcriber struct {
	vocab     *specialTokens
	gen       generationConfig
	codec     textCodec
	extractor *audioprep.WhisperExtractor
	// positions is the encoder's output length (1500); maxTarget the
	// decoder's (448).
	positions, maxTarget int
	// maxSample caps the tokens sampled per window; 0 is none.
	maxSample int
	// attention says the decoder outputs the alignment heads'
	// cross-attention (heads of them), for word timestamps.
	attention bool
	heads     int
	submit    func(context.Context, *windowJob) (windowResult, error)
}

// hop is the mel hop in samples; input_stride mel frames make one encoder
// position (2), so a timestamp token is 0.02 s.
const hop = 160

func (t *transcriber) timePrecision() float64 {
	return float64(t.extractor.Frames()/t.positions*hop) / audioprep.SampleRate
}

// run transcribes 16 kHz samples.
func (t *transcriber) run(ctx context.Context, samples []float32, o options) (*transcript, error) {
	frames := t.extractor.Frames()
	content := len(samples) / hop
	out := &transcript{language: o.language}
	if !t.vocab.multilingual {
		out.language = "en"
	}
	var all []int64
	if p := strings.TrimSpace(o.initialPrompt); p != "" {
		all = t.codec.encode(" " + p)
	}
	if o.withoutTimestamps && !o.conditionOnPrevious && o.initialPrompt == "" {
		return t.runIndependent(ctx, samples, o, out)
	}
	resetSince := 0
	words := &wordTimer{t: t, attention: t.attention, heads: t.heads}
	for seek := 0; seek < content; {
		size := min(frames, content-seek)
		window, err := t.window(ctx, samples, seek, size)
		if err != nil {
			return nil, err
		}
		var prefix string
		if seek == 0 {
			prefix = o.prefix
		}
		res, err := t.decodeWithFallback(ctx, window, all[resetSince:], prefix, out, seek, o)
		if err != nil {
			return nil, err
		}
		if silent(res, o) {
			seek += size
			continue
		}
		segs, next := t.segments(res, seek, size, o.withoutTimestamps)
		if o.wordTimestamps && o.withoutTimestamps {
			if err := words.time(ctx, segs, window, seek, size, out.language, o); err != nil {
				return nil, err
			}
		} else if o.wordTimestamps {
			span := windowSpan{seek: seek, size: size, frames: frames, content: content}
			var skip bool
			if segs, next, skip, err = t.timeWords(ctx, words, segs, window, span, next, res.tokens, out.language, o); err != nil {
				return nil, err
			}
			if skip {
				seek = next
				continue
			}
		}
		finishSegments(segs, seek+size)
		for _, s := range segs {
			all = append(all, s.tokens...)
		}
		out.segments = append(out.segments, segs...)
		if !o.conditionOnPrevious || res.temperature > 0.5 {
			resetSince = len(all)
		}
		if next <= seek {
			next = seek + size // the timestamp rules rule this out; a broken model must not loop
		}
		seek = next
	}
	return out, nil
}

// window extracts the log-mel features of the window of size frames at
// seek.
func (t *transcriber) window(ctx context.Context, samples []float32, seek, size int) (*audioWindow, error) {
	w := &audioWindow{features: make([]float32, t.extractor.Bins()*t.extractor.Frames())}
	var err error
	if werr := batch.Prepare(ctx, func() { err = t.extractor.Extract(samples[seek*hop:(seek+size)*hop], w.features) }); werr != nil {
		return nil, werr
	}
	return w, err
}

// finishSegments empties segments without time or text, as transcribe()
// does, and clamps times to the window's audio, which ends at frame end.
func finishSegments(segs []segment, end int) {
	for i := range segs {
		if segs[i].start == segs[i].end || strings.TrimSpace(segs[i].text) == "" {
			segs[i].text, segs[i].tokens, segs[i].words = "", nil, nil
		}
	}
	clampToAudio(segs, float64(end*hop)/audioprep.SampleRate)
}

// maxWindowsInFlight bounds the windows one request decodes at once
// without timestamps: enough to fill an encoder batch, few enough that
// one long file does not take every admission place of the scheduler.
const maxWindowsInFlight = 4

// runIndependent decodes without timestamps and without previous text,
// where no window depends on another: the windows concurrently, so one
// request's windows share encoder batches and decoder steps — after the
// first alone when it detects the language the others are prompted with.
func (t *transcriber) runIndependent(ctx context.Context, samples []float32, o options, out *transcript) (*transcript, error) {
	frames, content := t.extractor.Frames(), len(samples)/hop
	var seeks []int
	for seek := 0; seek < content; seek += frames {
		seeks = append(seeks, seek)
	}
	windows := make([][]segment, len(seeks))
	decode := func(ctx context.Context, k int) error {
		seek := seeks[k]
		size := min(frames, content-seek)
		window, err := t.window(ctx, samples, seek, size)
		if err != nil {
			return err
		}
		var prefix string
		if seek == 0 {
			prefix = o.prefix
		}
		res, err := t.decodeWithFallback(ctx, window, nil, prefix, out, seek, o)
		if err != nil {
			return err
		}
		if silent(res, o) {
			return nil
		}
		segs, _ := t.segments(res, seek, size, true)
		if o.wordTimestamps {
			words := &wordTimer{t: t, attention: t.attention, heads: t.heads}
			if err := words.time(ctx, segs, window, seek, size, out.language, o); err != nil {
				return err
			}
		}
		finishSegments(segs, seek+size)
		windows[k] = segs
		return nil
	}
	first := 0
	if out.language == "" && len(seeks) > 0 {
		if err := decode(ctx, 0); err != nil {
			return nil, err
		}
		first = 1
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxWindowsInFlight)
	for k := first; k < len(seeks); k++ {
		g.Go(func() error { return decode(gctx, k) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, segs := range windows {
		out.segments = append(out.segments, segs...)
	}
	return out, nil
}

// timeWords times a window's words and moves the next window's start as
// transcribe() does: after the last word, unless the window ended on a
// single timestamp; with a hallucination-silence threshold, it also cuts
// the window before a likely hallucination (skip: drop it whole).
func (t *transcriber) timeWords(ctx context.Context, words *wordTimer, segs []segment, window *audioWindow, w windowSpan,
	next int, tokens []int64, lang string, o options) ([]segment, int, bool, error) {
	lastSpeech := words.lastSpeech
	if err := words.time(ctx, segs, window, w.seek, w.size, lang, o); err != nil {
		return nil, 0, false, err
	}
	single := endsOnSingleTimestamp(tokens, t.vocab.timestampBegin)
	if end, ok := speechEnd(segs); !single && ok && end > w.offset() {
		next = framesAt(end)
	}
	if o.hallucinationSilence != nil && words.attention {
		cut := cutHallucinations(segs, w, next, single, lastSpeech, *o.hallucinationSilence)
		if cut.skip {
			words.lastSpeech = lastSpeech
			return nil, cut.next, true, nil
		}
		segs, next = cut.segs, cut.next
	}
	words.lastSpeech = lastSpeech
	if end, ok := speechEnd(segs); ok {
		words.lastSpeech = end
	}
	return segs, next, false, nil
}

// endsOnSingleTimestamp says whether tokens end on one timestamp after
// text (single_timestamp_ending): the window's audio was all decoded.
func endsOnSingleTimestamp(tokens []int64, timestampBegin int64) bool {
	n := len(tokens)
	return n >= 2 && tokens[n-2] < timestampBegin && tokens[n-1] >= timestampBegin
}

// decodeWithFallback decodes one window at each temperature in turn until
// the result passes the compression-ratio and log-probability checks (or
// is judged silence), as openai-whisper's decode_with_fallback.
func (t *transcriber) decodeWithFallback(ctx context.Context, window *audioWindow, prev []int64, prefix string, out *transcript, seek int, o options) (decoded, error) {
	var d decoded
	for k, temp := range o.temperatures {
		job, err := t.job(window, prev, prefix, out.language, temp, o)
		if err != nil {
			return d, err
		}
		job.seed = o.seed ^ uint64(seek)*0x9E3779B97F4A7C15 ^ uint64(k)
		res, err := t.submit(ctx, job)
		if err != nil {
			return d, err
		}
		if job.detect {
			out.language, out.languageProb = res.language, res.languageProb
		}
		d = decoded{windowResult: res, temperature: temp, compressionRatio: compressionRatio(t.codec.decode(res.tokens))}
		if !needsFallback(d, o) {
			break
		}
	}
	return d, nil
}

// silent says a window is skipped as silence, as transcribe() does: its
// no_speech probability is over the threshold and its average
// log-probability not above the log-probability threshold.
func silent(d decoded, o options) bool {
	return o.noSpeech != nil && d.noSpeechProb > *o.noSpeech && (o.logProb == nil || d.avgLogprob <= *o.logProb)
}

// needsFallback applies decode_with_fallback's checks.
func needsFallback(d decoded, o options) bool {
	needs := (o.compressionRatio != nil && d.compressionRatio > *o.compressionRatio) ||
		(o.logProb != nil && d.avgLogprob < *o.logProb)
	if o.noSpeech != nil && d.noSpeechProb > *o.noSpeech && o.logProb != nil && d.avgLogprob < *o.logProb {
		needs = false // silence: no temperature will make it speech
	}
	return needs
}

// job builds a window's decoder prompt and rules: [<|startofprev|> prev…]
// <|startoftranscript|> [<|lang|> <|task|>] [<|notimestamps|>] [prefix…],
// the timestamp rules on unless o.withoutTimestamps puts <|notimestamps|>
// in.
func (t *transcriber) job(window *audioWindow, prev []int64, prefix, lang string, temp float64, o options) (*windowJob, error) {
	v := t.vocab
	half := t.maxTarget / 2
	j := &windowJob{window: window, temperature: temp, beams: o.beams}
	if temp > 0 {
		j.beams = 1 // openai-whisper samples instead of searching beams
	}
	if len(prev) > 0 {
		j.prompt = append([]int64{v.sotPrev}, prev[max(0, len(prev)-(half-1)):]...)
	}
	j.sotIndex = len(j.prompt)
	j.prompt = append(j.prompt, v.sot)
	if v.multilingual {
		j.langPos = len(j.prompt)
		if id, ok := v.byCode[lang]; ok {
			j.prompt = append(j.prompt, id)
		} else {
			j.detect = true
			j.prompt = append(j.prompt, v.languages[0].id) // replaced by the detection
		}
		task := v.transcribe
		if o.translate {
			task = v.translate
		}
		j.prompt = append(j.prompt, task)
	}
	if o.withoutTimestamps {
		j.prompt = append(j.prompt, v.noTimestamps)
	}
	if p := strings.TrimSpace(prefix); p != "" {
		toks := t.codec.encode(" " + p)
		j.prompt = append(j.prompt, toks[max(0, len(toks)-(half-1)):]...)
	}
	j.sampleLen = min(half, t.maxTarget-len(j.prompt))
	if t.maxSample > 0 {
		j.sampleLen = min(j.sampleLen, t.maxSample)
	}
	maxInitial := 50 // max_initial_timestamp 1.0 s
	if t.gen.MaxInitialTimestampIndex != nil {
		maxInitial = *t.gen.MaxInitialTimestampIndex
	}
	begin := t.gen.BeginSuppressTokens
	if begin == nil {
		begin = []int64{v.eot}
	}
	j.rules = logitRules{sampleBegin: len(j.prompt), suppress: suppressed(v, t.gen), beginSuppress: begin,
		timestamps: !o.withoutTimestamps, eot: v.eot, noTimestamps: v.noTimestamps, timestampBegin: v.timestampBegin,
		maxInitialTimestamp: maxInitial}
	return j, nil
}

// segments splits a window's tokens at timestamp pairs, as transcribe()
// does, and returns where the next window starts.
func (t *transcriber) segments(d decoded, seek, size int, withoutTimestamps bool) ([]segment, int) {
	tb := t.vocab.timestampBegin
	tokens := d.tokens
	precision := t.timePrecision()
	offset := float64(seek*hop) / audioprep.SampleRate
	if withoutTimestamps {
		// One segment over the window, whatever timestamp tokens it holds.
		return []segment{t.segment(d, seek, offset, offset+float64(size*hop)/audioprep.SampleRate, tokens)}, seek + size
	}
	isTS := func(i int) bool { return tokens[i] >= tb }
	n := len(tokens)
	singleEnding := endsOnSingleTimestamp(tokens, tb)
	var cuts []int
	for i := 1; i < n; i++ {
		if isTS(i-1) && isTS(i) {
			cuts = append(cuts, i)
		}
	}
	if len(cuts) > 0 {
		if singleEnding {
			cuts = append(cuts, n)
		}
		var segs []segment
		last := 0
		for _, cut := range cuts {
			slice := tokens[last:cut]
			start := offset + float64(slice[0]-tb)*precision
			end := offset + float64(slice[len(slice)-1]-tb)*precision
			segs = append(segs, t.segment(d, seek, start, end, slice))
			last = cut
		}
		if singleEnding {
			return segs, seek + size
		}
		return segs, seek + int(tokens[last-1]-tb)*t.extractor.Frames()/t.positions
	}
	duration := float64(size*hop) / audioprep.SampleRate
	for i := n - 1; i >= 0; i-- {
		if isTS(i) {
			if tokens[i] != tb {
				duration = float64(tokens[i]-tb) * precision
			}
			break
		}
	}
	return []segment{t.segment(d, seek, offset, offset+duration, tokens)}, seek + size
}

// clampToAudio moves segment and word times past end, the end of the
// window's audio, back to it. openai-whisper keeps such times (a timestamp
// into the window's padding, which a trained model rarely predicts); an
// answer whose segments end after its audio does helps nobody. It runs
// after the empty-segment check, so only times change, never text.
func clampToAudio(segs []segment, end float64) {
	for i := range segs {
		s := &segs[i]
		s.start, s.end = min(s.start, end), min(s.end, end)
		for k := range s.words {
			s.words[k].start, s.words[k].end = min(s.words[k].start, end), min(s.words[k].end, end)
		}
	}
}

func (t *transcriber) segment(d decoded, seek int, start, end float64, tokens []int64) segment {
	return segment{seek: seek, start: start, end: end, text: t.codec.decode(tokens), tokens: slices.Clone(tokens),
		temperature: d.temperature, avgLogprob: d.avgLogprob, compressionRatio: d.compressionRatio, noSpeechProb: d.noSpeechProb}
}

// compressionRatio is openai-whisper's: the UTF-8 length of text over its
// zlib-compressed length (Go's zlib at the default level; zlib's own
// output can differ by a few bytes).
func compressionRatio(text string) float64 {
	if text == "" {
		return 0
	}
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write([]byte(text))
	w.Close()
	return float64(len(text)) / float64(buf.Len())
}
