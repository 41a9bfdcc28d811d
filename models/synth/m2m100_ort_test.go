package synth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/edgeinfer/edgeinfer/models/ort"
	"github.com/edgeinfer/edgeinfer/models/ort/orttest"
)

// m2m100Tol is the agreement asked of ONNX Runtime (float32, fused
// kernels) and the float64 reference, and of cached and uncached steps.
const m2m100Tol = 1e-4

// tinyM2M100 generates the tiny preset into a fresh directory and returns
// the model directory and its dimensions (read back from config.json).
func tinyM2M100(t *testing.T, seed uint64) (string, M2M100Dims) {
	t.Helper()
	root := t.TempDir()
	if err := Generate(context.Background(), Options{Preset: Tiny, OutDir: root, Seed: seed}, []string{M2M100ModelID}, io.Discard); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, filepath.FromSlash(M2M100ModelID))
	var cfg struct {
		DModel        int `json:"d_model"`
		Heads         int `json:"encoder_attention_heads"`
		EncoderLayers int `json:"encoder_layers"`
		DecoderLayers int `json:"decoder_layers"`
		FFN           int `json:"encoder_ffn_dim"`
		MaxPositions  int `json:"max_position_embeddings"`
		Vocab         int `json:"vocab_size"`
	}
	m2mReadJSON(t, filepath.Join(dir, "config.json"), &cfg)
	return dir, M2M100Dims{DModel: cfg.DModel, Heads: cfg.Heads, EncoderLayers: cfg.EncoderLayers,
		DecoderLayers: cfg.DecoderLayers, FFN: cfg.FFN, MaxPositions: cfg.MaxPositions, Vocab: cfg.Vocab}
}

func m2mReadJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// m2mOut is one output copied out of ONNX Runtime.
type m2mOut struct {
	shape []int64
	data  []float32
}

// m2mSession opens one of the ONNX files on the real runtime.
func m2mSession(t *testing.T, dir, file string) *ort.Session {
	t.Helper()
	orttest.Require(t)
	s, err := ort.Open(filepath.Join(dir, "onnx", file), ort.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// m2mFeeds builds input tensors; values are []int64, []float32 or []bool
// with their shapes.
type m2mFeeds map[string]struct {
	shape []int64
	data  any
}

func (f m2mFeeds) int64s(name string, data []int64, shape ...int64) {
	f[name] = struct {
		shape []int64
		data  any
	}{shape, data}
}

func (f m2mFeeds) floats(name string, data []float32, shape ...int64) {
	f[name] = struct {
		shape []int64
		data  any
	}{shape, data}
}

func (f m2mFeeds) bools(name string, data []bool, shape ...int64) {
	f[name] = struct {
		shape []int64
		data  any
	}{shape, data}
}

// m2mRun feeds the inputs the session declares and copies every output.
func m2mRun(t *testing.T, s *ort.Session, feeds m2mFeeds) map[string]m2mOut {
	t.Helper()
	values := map[string]onnx.Value{}
	defer func() {
		for _, v := range values {
			v.Destroy()
		}
	}()
	for name, f := range feeds {
		var v onnx.Value
		var err error
		switch data := f.data.(type) {
		case []int64:
			v, err = onnx.NewTensor(onnx.NewShape(f.shape...), data)
		case []float32:
			v, err = onnx.NewTensor(onnx.NewShape(f.shape...), data)
		case []bool:
			v, err = onnx.NewTensor(onnx.NewShape(f.shape...), data)
		}
		if err != nil {
			t.Fatalf("input %s: %v", name, err)
		}
		values[name] = v
	}
	inputs, err := s.BindInputs(values)
	if err != nil {
		t.Fatal(err)
	}
	outputs := make([]onnx.Value, len(s.Outputs()))
	if err := s.Run(inputs, outputs); err != nil {
		t.Fatal(err)
	}
	got := map[string]m2mOut{}
	for i, o := range outputs {
		tensor := o.(*onnx.Tensor[float32])
		got[s.Outputs()[i].Name] = m2mOut{shape: slices.Clone([]int64(tensor.GetShape())), data: slices.Clone(tensor.GetData())}
		o.Destroy()
	}
	return got
}

// m2mSource is a batch of two source sentences in the tokenizer's layout
// ([__src__] pieces… </s>), the second padded: ids, mask, length.
func m2mSource(d M2M100Dims) (ids, mask []int64, seq int64) {
	lang := int64(d.Vocab - m2m100MadeUpWords - len(m2m100LanguageCodes)) // __af__
	en := lang + 18
	ids = []int64{
		en, 120, 350, 68, 399, 199, m2m100EOSID,
		en + 6, 77, 410, m2m100EOSID, m2m100PadID, m2m100PadID, m2m100PadID,
	}
	mask = []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}
	return ids, mask, 7
}

func m2mEncode(t *testing.T, dir string, ids, mask []int64, seq int64) m2mOut {
	t.Helper()
	feeds := m2mFeeds{}
	feeds.int64s("input_ids", ids, 2, seq)
	feeds.int64s("attention_mask", mask, 2, seq)
	return m2mRun(t, m2mSession(t, dir, "encoder_model.onnx"), feeds)["last_hidden_state"]
}

func TestM2M100EncoderMatchesReference(t *testing.T) {
	dir, d := tinyM2M100(t, 0)
	ids, mask, seq := m2mSource(d)
	got := m2mEncode(t, dir, ids, mask, seq)
	if !slices.Equal(got.shape, []int64{2, seq, int64(d.DModel)}) {
		t.Fatalf("last_hidden_state shape %v", got.shape)
	}
	ref := loadM2M100Ref(t, filepath.Join(dir, "onnx", "encoder_model.onnx"), d)
	for b := range 2 {
		want := ref.encode(ids[b*int(seq):(b+1)*int(seq)], mask[b*int(seq):(b+1)*int(seq)])
		if diff := m2mMaxDiff(m2mRows(got.data, b, int(seq), d.DModel), want); diff > m2m100Tol {
			t.Errorf("sequence %d: ORT and reference differ by %g", b, diff)
		}
	}
}

func TestM2M100PositionTableIsSinusoidal(t *testing.T) {
	dir, d := tinyM2M100(t, 0)
	ref := loadM2M100Ref(t, filepath.Join(dir, "onnx", "encoder_model.onnx"), d)
	table := ref.weight("model.encoder.embed_positions.weights")
	if len(table) != (d.MaxPositions+4)*d.DModel {
		t.Fatalf("table has %d values, want (%d+4)×%d", len(table), d.MaxPositions, d.DModel)
	}
	half := d.DModel / 2
	for _, p := range []int{0, 1, 2, 3, 100, d.MaxPositions + 3} {
		for j := range half {
			freq := math.Pow(10000, -float64(j)/float64(half-1))
			wantSin, wantCos := math.Sin(float64(p)*freq), math.Cos(float64(p)*freq)
			if p == m2m100PadID {
				wantSin, wantCos = 0, 0
			}
			gotSin, gotCos := float64(table[p*d.DModel+j]), float64(table[p*d.DModel+half+j])
			if math.Abs(gotSin-wantSin) > 1e-6 || math.Abs(gotCos-wantCos) > 1e-6 {
				t.Fatalf("position %d, frequency %d: got (%g, %g), want (%g, %g)", p, j, gotSin, gotCos, wantSin, wantCos)
			}
		}
	}
}

// m2mDecoderFeeds are the first-step decoder inputs: target prefixes
// [</s>, __tgt__, …] of length steps for both sentences.
func m2mDecoderFeeds(d M2M100Dims, enc m2mOut, mask []int64, seq int64, targets []int64, steps int64) m2mFeeds {
	feeds := m2mFeeds{}
	feeds.int64s("input_ids", targets, 2, steps)
	feeds.int64s("encoder_attention_mask", mask, 2, seq)
	feeds.floats("encoder_hidden_states", enc.data, 2, seq, int64(d.DModel))
	return feeds
}

// m2mTargets returns both sentences' decoder inputs for the first steps
// tokens (starting </s>, __fr__ / __de__, then pieces).
func m2mTargets(d M2M100Dims, steps int) []int64 {
	lang := int64(d.Vocab - m2m100MadeUpWords - len(m2m100LanguageCodes))
	all := [][]int64{
		{m2m100EOSID, lang + 24, 200, 31, 9},
		{m2m100EOSID, lang + 16, 57, 300, 12},
	}
	return slices.Concat(all[0][:steps], all[1][:steps])
}

func TestM2M100DecoderMatchesReference(t *testing.T) {
	dir, d := tinyM2M100(t, 0)
	ids, mask, seq := m2mSource(d)
	enc := m2mEncode(t, dir, ids, mask, seq)
	const steps = 3
	targets := m2mTargets(d, steps)
	got := m2mRun(t, m2mSession(t, dir, "decoder_model.onnx"), m2mDecoderFeeds(d, enc, mask, seq, targets, steps))

	ref := loadM2M100Ref(t, filepath.Join(dir, "onnx", "decoder_model.onnx"), d)
	for b := range 2 {
		logits, caches := ref.decode(targets[b*steps:(b+1)*steps], m2mRows(enc.data, b, int(seq), d.DModel), mask[b*int(seq):(b+1)*int(seq)])
		if diff := m2mMaxDiff(m2mRows(got["logits"].data, b, steps, d.Vocab), logits); diff > m2m100Tol {
			t.Errorf("sequence %d: logits differ from the reference by %g", b, diff)
		}
		for i, c := range caches {
			for name, want := range map[string]m2mMat{"decoder.key": c.selfK, "decoder.value": c.selfV, "encoder.key": c.crossK, "encoder.value": c.crossV} {
				n := int(seq)
				if name[0] == 'd' {
					n = steps
				}
				out := got[m2m100CacheName("present", i, name)]
				if diff := m2mMaxDiff(m2mHeads(out.data, b, n, d), want); diff > m2m100Tol {
					t.Errorf("sequence %d: present.%d.%s differs from the reference by %g", b, i, name, diff)
				}
			}
		}
	}
}

// m2m100CacheName is the name of one cache tensor; part is "decoder.key",
// "decoder.value", "encoder.key" or "encoder.value".
func m2m100CacheName(prefix string, layer int, part string) string {
	return fmt.Sprintf("%s.%d.%s", prefix, layer, part)
}

// TestM2M100CacheStepsAgree checks the generation loop an engine runs:
// step 1 through the merged decoder without cache (empty past) equals
// decoder_model; step 2 with the cache, through decoder_with_past and
// through the merged decoder, equals recomputing the whole prefix.
func TestM2M100CacheStepsAgree(t *testing.T) {
	dir, d := tinyM2M100(t, 0)
	ids, mask, seq := m2mSource(d)
	enc := m2mEncode(t, dir, ids, mask, seq)
	first := m2mSession(t, dir, "decoder_model.onnx")
	withPast := m2mSession(t, dir, "decoder_with_past_model.onnx")
	merged := m2mSession(t, dir, "decoder_model_merged.onnx")
	H, hd := int64(d.Heads), int64(d.HeadDim())

	const steps = 3
	step1 := m2mRun(t, first, m2mDecoderFeeds(d, enc, mask, seq, m2mTargets(d, steps), steps))
	feeds := m2mDecoderFeeds(d, enc, mask, seq, m2mTargets(d, steps), steps)
	for i := range d.DecoderLayers {
		for _, part := range []string{"decoder.key", "decoder.value", "encoder.key", "encoder.value"} {
			feeds.floats(m2m100CacheName("past_key_values", i, part), []float32{}, 2, H, 0, hd)
		}
	}
	feeds.bools("use_cache_branch", []bool{false}, 1)
	mergedStep1 := m2mRun(t, merged, feeds)
	m2mSameOutputs(t, "merged step 1 vs decoder_model", mergedStep1, step1, 1e-5)

	// Step 2 feeds one new token and step 1's presents as the past.
	next := []int64{m2mTargets(d, steps+1)[steps], m2mTargets(d, steps+1)[2*steps+1]}
	past := m2mFeeds{}
	past.int64s("input_ids", next, 2, 1)
	past.int64s("encoder_attention_mask", mask, 2, seq)
	for i := range d.DecoderLayers {
		for _, part := range []string{"decoder.key", "decoder.value", "encoder.key", "encoder.value"} {
			p := step1[m2m100CacheName("present", i, part)]
			past.floats(m2m100CacheName("past_key_values", i, part), p.data, p.shape...)
		}
	}
	cached := m2mRun(t, withPast, past)
	for name := range cached {
		if strings.Contains(name, ".encoder.") {
			t.Errorf("decoder_with_past emits %s; optimum's has no encoder presents", name)
		}
	}
	past.floats("encoder_hidden_states", enc.data, 2, seq, int64(d.DModel))
	past.bools("use_cache_branch", []bool{true}, 1)
	mergedStep2 := m2mRun(t, merged, past)

	full := m2mRun(t, first, m2mDecoderFeeds(d, enc, mask, seq, m2mTargets(d, steps+1), steps+1))
	last := m2mLastStep(full["logits"], steps+1, d.Vocab)
	m2mSameOutputs(t, "with_past step 2 vs recomputed", cached, map[string]m2mOut{"logits": last}, m2m100Tol)
	m2mSameOutputs(t, "merged step 2 vs recomputed", map[string]m2mOut{"logits": mergedStep2["logits"]}, map[string]m2mOut{"logits": last}, m2m100Tol)
	for i := range d.DecoderLayers {
		for _, part := range []string{"decoder.key", "decoder.value"} {
			name := m2m100CacheName("present", i, part)
			want := map[string]m2mOut{name: full[name]}
			m2mSameOutputs(t, "with_past step 2 "+name, map[string]m2mOut{name: cached[name]}, want, m2m100Tol)
			m2mSameOutputs(t, "merged step 2 "+name, map[string]m2mOut{name: mergedStep2[name]}, want, m2m100Tol)
		}
	}
	checkEmptyEncoderPresents(t, "merged step 2", mergedStep2, d.DecoderLayers, d.Heads, d.DModel/d.Heads)

	// And the reference agrees with the cached step on the new token.
	ref := loadM2M100Ref(t, filepath.Join(dir, "onnx", "decoder_model.onnx"), d)
	targets := m2mTargets(d, steps+1)
	for b := range 2 {
		logits, _ := ref.decode(targets[b*(steps+1):(b+1)*(steps+1)], m2mRows(enc.data, b, int(seq), d.DModel), mask[b*int(seq):(b+1)*int(seq)])
		if diff := m2mMaxDiff(m2mRows(cached["logits"].data, b, 1, d.Vocab), logits[steps:]); diff > m2m100Tol {
			t.Errorf("sequence %d: cached step logits differ from the reference by %g", b, diff)
		}
	}
}

// m2mLastStep keeps the last decoder position of a [2, steps, width] output.
func m2mLastStep(o m2mOut, steps, width int) m2mOut {
	out := m2mOut{shape: []int64{2, 1, int64(width)}}
	for b := range 2 {
		out.data = append(out.data, o.data[(b*steps+steps-1)*width:(b*steps+steps)*width]...)
	}
	return out
}

// m2mSameOutputs compares every output of want against got: same shape,
// values within tol.
func m2mSameOutputs(t *testing.T, what string, got, want map[string]m2mOut, tol float64) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: no output %s", what, name)
			continue
		}
		if !slices.Equal(g.shape, w.shape) {
			t.Errorf("%s: %s has shape %v, want %v", what, name, g.shape, w.shape)
			continue
		}
		worst := 0.0
		for i := range w.data {
			diff := math.Abs(float64(g.data[i]) - float64(w.data[i]))
			if math.IsNaN(diff) {
				diff = math.Inf(1)
			}
			worst = max(worst, diff)
		}
		if worst > tol {
			t.Errorf("%s: %s differs by %g (tolerance %g)", what, name, worst, tol)
		}
	}
}

func TestM2M100LogitsAreFiniteAndFollowTheInput(t *testing.T) {
	dir, d := tinyM2M100(t, 0)
	ids, mask, seq := m2mSource(d)
	enc := m2mEncode(t, dir, ids, mask, seq)
	dec := m2mSession(t, dir, "decoder_model.onnx")
	const steps = 3
	base := m2mRun(t, dec, m2mDecoderFeeds(d, enc, mask, seq, m2mTargets(d, steps), steps))["logits"]

	var sum, sumSq float64
	for _, v := range base.data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("non-finite logit %v", v)
		}
		sum += float64(v)
		sumSq += float64(v) * float64(v)
	}
	n := float64(len(base.data))
	if std := math.Sqrt(sumSq/n - (sum/n)*(sum/n)); std < 0.1 || std > 10 {
		t.Errorf("logit standard deviation %g: softmax would be flat or one-hot", std)
	}

	// Another source sentence must change the logits of the same target.
	other := slices.Clone(ids)
	other[2], other[3] = other[3], other[2]
	changed := m2mRun(t, dec, m2mDecoderFeeds(d, m2mEncode(t, dir, other, mask, seq), mask, seq, m2mTargets(d, steps), steps))["logits"]
	worst := 0.0
	for i := range base.data[:steps*d.Vocab] {
		worst = max(worst, math.Abs(float64(base.data[i]-changed.data[i])))
	}
	if worst < 0.01 {
		t.Errorf("swapping two source tokens moved the logits by at most %g", worst)
	}
}

// checkEmptyEncoderPresents checks what optimum's merged decoders emit for
// the encoder presents in the cache branch: empty [0, heads, 1, head_dim]
// constants (the caller keeps the first step's cross keys).
func checkEmptyEncoderPresents(t *testing.T, what string, got map[string]m2mOut, layers, heads, headDim int) {
	t.Helper()
	for i := range layers {
		for _, part := range []string{"encoder.key", "encoder.value"} {
			name := m2m100CacheName("present", i, part)
			if out := got[name]; len(out.data) != 0 || !slices.Equal(out.shape, []int64{0, int64(heads), 1, int64(headDim)}) {
				t.Errorf("%s: %s has shape %v (%d values), want an empty [0 %d 1 %d]", what, name, out.shape, len(out.data), heads, headDim)
			}
		}
	}
}
