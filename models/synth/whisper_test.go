package synth

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// whisperFiles is every file a generated Whisper directory holds.
var whisperFiles = []string{
	".edgeinfer-synth.json", "added_tokens.json", "config.json", "generation_config.json", "merges.txt",
	"onnx/decoder_model_merged.onnx", "onnx/decoder_model_merged_quantized.onnx",
	"onnx/encoder_model.onnx", "onnx/encoder_model_quantized.onnx",
	"preprocessor_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.json",
}

// whisperContract is the interface of the timestamped hub exports
// (optimum's axis names), for dims d.
func whisperContract(d WhisperDims) map[string][2][]onnxfile.Value {
	dyn, fix := onnxgraph.Dynamic, onnxgraph.Fixed
	f32 := onnxgraph.Float
	batch, decSeq, encOut := dyn("batch_size"), dyn("decoder_sequence_length"), dyn("encoder_sequence_length_out")
	heads, headDim := fix(int64(d.Heads)), fix(int64(d.HeadDim()))
	v := func(name string, t onnxgraph.DataType, dims ...onnxgraph.Dim) onnxfile.Value {
		return onnxfile.Value{Name: name, Type: t, Dims: dims}
	}
	cache := func(prefix string, seq onnxgraph.Dim) []onnxfile.Value {
		var vals []onnxfile.Value
		for i := range d.DecoderLayers {
			vals = append(vals,
				v(fmt.Sprintf("%s.%d.decoder.key", prefix, i), f32, batch, heads, seq, headDim),
				v(fmt.Sprintf("%s.%d.decoder.value", prefix, i), f32, batch, heads, seq, headDim),
				v(fmt.Sprintf("%s.%d.encoder.key", prefix, i), f32, batch, heads, encOut, headDim),
				v(fmt.Sprintf("%s.%d.encoder.value", prefix, i), f32, batch, heads, encOut, headDim))
		}
		return vals
	}
	var cross []onnxfile.Value
	for i := range d.DecoderLayers {
		cross = append(cross, v(fmt.Sprintf("cross_attentions.%d", i), f32, batch, heads, decSeq, encOut))
	}
	half := dyn("encoder_sequence_length / 2")
	return map[string][2][]onnxfile.Value{
		"encoder_model.onnx": {
			{v("input_features", f32, batch, dyn("feature_size"), dyn("encoder_sequence_length"))},
			{v("last_hidden_state", f32, batch, half, fix(int64(d.DModel)))},
		},
		"decoder_model_merged.onnx": {
			slices.Concat([]onnxfile.Value{v("input_ids", onnxgraph.Int64, batch, decSeq), v("encoder_hidden_states", f32, batch, half, fix(int64(d.DModel)))},
				cache("past_key_values", dyn("past_decoder_sequence_length")),
				[]onnxfile.Value{v("use_cache_branch", onnxgraph.Bool, fix(1))}),
			slices.Concat([]onnxfile.Value{v("logits", f32, batch, decSeq, fix(int64(d.Vocab)))},
				cache("present", dyn("past_decoder_sequence_length + decoder_sequence_length")), cross),
		},
	}
}

func TestWhisperFilesMatchTheContract(t *testing.T) {
	t.Parallel()
	for _, id := range WhisperModelIDs {
		dir, d := tinyWhisper(t, id)
		var files []string
		err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				rel, _ := filepath.Rel(dir, p)
				files = append(files, filepath.ToSlash(rel))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(files)
		if !slices.Equal(files, whisperFiles) {
			t.Errorf("%s: files\n got %v\nwant %v", id, files, whisperFiles)
		}
		for base, want := range whisperContract(d) {
			for _, file := range []string{base, strings.TrimSuffix(base, ".onnx") + "_quantized.onnx"} {
				m2mCheckContract(t, dir, file, want)
			}
		}
	}
}

// openAIAlignmentHeads decodes a mask of openai-whisper's _ALIGNMENT_HEADS
// (base85, gzip, one bool per decoder layer × head).
func openAIAlignmentHeads(t *testing.T, mask string, heads int) [][]int {
	t.Helper()
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~"
	pad := (5 - len(mask)%5) % 5
	padded := mask + strings.Repeat("~", pad)
	var raw []byte
	for i := 0; i < len(padded); i += 5 {
		var acc uint64
		for _, c := range padded[i : i+5] {
			acc = acc*85 + uint64(strings.IndexRune(alphabet, c))
		}
		raw = append(raw, byte(acc>>24), byte(acc>>16), byte(acc>>8), byte(acc))
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw[:len(raw)-pad]))
	if err != nil {
		t.Fatal(err)
	}
	bits, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]int
	for i, b := range bits {
		if b != 0 {
			out = append(out, []int{i / heads, i % heads})
		}
	}
	return out
}

// whisperGeneration is the part of generation_config.json the tests read.
type whisperGeneration struct {
	AlignmentHeads           [][]int        `json:"alignment_heads"`
	BeginSuppress            []int          `json:"begin_suppress_tokens"`
	DecoderStart             int            `json:"decoder_start_token_id"`
	EOS                      int            `json:"eos_token_id"`
	Forced                   [][]any        `json:"forced_decoder_ids"`
	IsMultilingual           bool           `json:"is_multilingual"`
	LangToID                 map[string]int `json:"lang_to_id"`
	TaskToID                 map[string]int `json:"task_to_id"`
	MaxInitialTimestampIndex int            `json:"max_initial_timestamp_index"`
	NoTimestamps             int            `json:"no_timestamps_token_id"`
	PrevSOT                  int            `json:"prev_sot_token_id"`
	Suppress                 []int          `json:"suppress_tokens"`
}

// TestWhisperGenerationConfigs checks generation_config.json against the
// hub's files: special IDs, the forced prompt, language and task tables
// (spot values from openai/whisper-large-v3-turbo's lang_to_id),
// suppress_tokens' ends, and alignment heads equal to those OpenAI's own
// masks decode to (full size) or inside the tiny geometry.
func TestWhisperGenerationConfigs(t *testing.T) {
	t.Parallel()
	masks := map[string]string{
		WhisperTinyEnID:       "ABzY8J1N>@0{>%R00Bk>$p{7v037`oCl~+#00",
		WhisperLargeV3TurboID: "ABzY8j^C+e0{>%RARaKHP%t(lGR*)0g!tONPyhe`",
		WhisperID:             "ABzY8gWO1E0{>%R7(9S+Kn!D~%ngiGaR?*L!iJG9p-nab0JQ=-{D1-g00",
	}
	for _, id := range WhisperModelIDs {
		m, _ := whisperModelFor(id)
		full, _ := WhisperPresetDims(id, Full)
		var heads [][]int
		for _, h := range m.presetAlignmentHeads(full) {
			heads = append(heads, []int{h[0], h[1]})
		}
		if want := openAIAlignmentHeads(t, masks[id], full.Heads); !slices.EqualFunc(heads, want, slices.Equal) {
			t.Errorf("%s: full-size alignment heads %v, OpenAI's mask gives %v", id, heads, want)
		}

		dir, d := tinyWhisper(t, id)
		var g whisperGeneration
		m2mReadJSON(t, filepath.Join(dir, "generation_config.json"), &g)
		for _, h := range g.AlignmentHeads {
			if h[0] >= d.DecoderLayers || h[1] >= d.Heads {
				t.Errorf("%s: tiny alignment head %v outside %d layers × %d heads", id, h, d.DecoderLayers, d.Heads)
			}
		}
		if g.MaxInitialTimestampIndex != 50 || g.EOS != g.BeginSuppress[1] || g.BeginSuppress[0] != 220 {
			t.Errorf("%s: max_initial_timestamp_index %d, begin_suppress_tokens %v", id, g.MaxInitialTimestampIndex, g.BeginSuppress)
		}
		if id == WhisperTinyEnID {
			whisperCheckEnglish(t, g)
		} else {
			whisperCheckMultilingual(t, id, g)
		}
		whisperCheckTokenizerAgrees(t, dir, d, g)
	}
}

// whisperCheckTokenizerAgrees: the IDs generation_config.json names are
// those of the same tokens in tokenizer.json, and the last added token
// (<|30.00|>) is the embedding's last row.
func whisperCheckTokenizerAgrees(t *testing.T, dir string, d WhisperDims, g whisperGeneration) {
	t.Helper()
	var tok struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
	}
	m2mReadJSON(t, filepath.Join(dir, "tokenizer.json"), &tok)
	ids := map[string]int{}
	last := 0
	for _, a := range tok.AddedTokens {
		ids[a.Content] = a.ID
		last = max(last, a.ID)
	}
	want := map[string]int{"<|startoftranscript|>": g.DecoderStart, "<|endoftext|>": g.EOS,
		"<|notimestamps|>": g.NoTimestamps, "<|startofprev|>": g.PrevSOT, "<|30.00|>": d.Vocab - 1}
	for task, id := range g.TaskToID {
		want["<|"+task+"|>"] = id
	}
	for lang, id := range g.LangToID {
		want[lang] = id
	}
	for content, id := range want {
		if got, ok := ids[content]; !ok || got != id {
			t.Errorf("%s: tokenizer.json has %s at %d (present %v), the configs say %d", dir, content, got, ok, id)
		}
	}
	if last != d.Vocab-1 {
		t.Errorf("%s: the last added token is %d, vocab_size %d", dir, last, d.Vocab)
	}
}

func whisperCheckEnglish(t *testing.T, g whisperGeneration) {
	t.Helper()
	got := fmt.Sprint(g.DecoderStart, g.EOS, g.NoTimestamps, g.PrevSOT, g.IsMultilingual, g.Forced, len(g.LangToID), len(g.TaskToID))
	if want := "50257 50256 50362 50360 false [[1 50362]] 0 0"; got != want {
		t.Errorf("tiny.en: sot eot notimestamps sotprev multilingual forced languages tasks = %s, want %s", got, want)
	}
	if tail := g.Suppress[len(g.Suppress)-7:]; !slices.Equal(tail, []int{49146, 50257, 50357, 50358, 50359, 50360, 50361}) {
		t.Errorf("tiny.en: suppress_tokens ends %v", tail)
	}
}

func whisperCheckMultilingual(t *testing.T, id string, g whisperGeneration) {
	t.Helper()
	got := fmt.Sprint(g.DecoderStart, g.EOS, g.NoTimestamps, g.PrevSOT, g.IsMultilingual, g.Forced, len(g.LangToID), g.TaskToID)
	if want := "50258 50257 50364 50362 true [[1 <nil>] [2 50360]] 100 map[transcribe:50360 translate:50359]"; got != want {
		t.Errorf("%s: sot eot notimestamps sotprev multilingual forced languages tasks = %s, want %s", id, got, want)
	}
	for code, want := range map[string]int{"en": 50259, "de": 50261, "ja": 50266, "af": 50327, "haw": 50352,
		"ln": 50353, "ba": 50355, "jw": 50356, "su": 50357, "yue": 50358} {
		if g.LangToID["<|"+code+"|>"] != want {
			t.Errorf("%s: lang_to_id[<|%s|>] = %d, want %d", id, code, g.LangToID["<|"+code+"|>"], want)
		}
	}
	if tail := g.Suppress[len(g.Suppress)-7:]; !slices.Equal(tail, []int{50254, 50258, 50359, 50360, 50361, 50362, 50363}) {
		t.Errorf("%s: suppress_tokens ends %v", id, tail)
	}
}

// TestWhisperInt8AgreesWithFloat: the int8 files quantize every linear
// weight (no MatMul left on a float initializer) but keep the
// convolutions float, and give encoder states and logits close to the
// fp32 files' (cosine ≥ 0.99 per row).
func TestWhisperInt8AgreesWithFloat(t *testing.T) {
	t.Parallel()
	dir, d := tinyWhisper(t, WhisperLargeV3TurboID)
	for _, file := range []string{"encoder_model_quantized.onnx", "decoder_model_merged_quantized.onnx"} {
		qm, inits := m2mInitializers(t, dir, file)
		ops := map[string]int{}
		var constMatMuls []string
		m2mOps(qm.GetGraph(), inits, ops, &constMatMuls)
		if len(constMatMuls) > 0 || ops["MatMulInteger"] == 0 {
			t.Errorf("%s: MatMul on float weights %v, %d MatMulInteger", file, constMatMuls, ops["MatMulInteger"])
		}
	}
	features := whisperFeatures(d)
	enc := whisperEncode(t, dir, "encoder_model.onnx", d, features)
	encQ := whisperEncode(t, dir, "encoder_model_quantized.onnx", d, features)
	whisperCheckCosine(t, "encoder states", enc.data, encQ.data, d.DModel)

	var ids []int64
	for _, p := range whisperPrompt(d) {
		ids = append(ids, p[:3]...)
	}
	logits := m2mRun(t, m2mSession(t, dir, "decoder_model_merged.onnx"), whisperDecoderFeeds(d, enc, ids, 3, nil))["logits"]
	logitsQ := m2mRun(t, m2mSession(t, dir, "decoder_model_merged_quantized.onnx"), whisperDecoderFeeds(d, encQ, ids, 3, nil))["logits"]
	whisperCheckCosine(t, "logits", logits.data, logitsQ.data, d.Vocab)
}

func whisperCheckCosine(t *testing.T, what string, a, b []float32, width int) {
	t.Helper()
	worst := 1.0
	for i := 0; i < len(a); i += width {
		worst = min(worst, cosine(a[i:i+width], b[i:i+width]))
	}
	if worst < 0.99 || math.IsNaN(worst) {
		t.Errorf("%s: int8 vs fp32 row cosine down to %.4f (limit 0.99)", what, worst)
	}
	t.Logf("%s: min row cosine int8 vs fp32 = %.4f", what, worst)
}

// TestFullLargeV3OnlyWhenNamed: a full run that names no model skips
// @cf/openai/whisper (about 8 GB) and says why; naming it, or a tiny run,
// writes it.
func TestFullLargeV3OnlyWhenNamed(t *testing.T) {
	var g Generator
	for _, gen := range generators {
		if gen.Model == WhisperID {
			g = gen
		}
	}
	for _, c := range []struct {
		preset Preset
		only   []string
		run    bool
	}{
		{Full, nil, false},
		{Full, []string{WhisperID}, true},
		{Full, []string{WhisperTinyEnID}, false},
		{Tiny, nil, true},
	} {
		run, why := g.selected(Options{Preset: c.preset}, c.only)
		if run != c.run || (!run && c.only == nil && !strings.Contains(why, "--only "+WhisperID)) {
			t.Errorf("preset %s, only %v: run %v (%q), want %v", c.preset, c.only, run, why, c.run)
		}
	}
}
