package synth

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// whisperTol is the agreement asked of ONNX Runtime (float32) and the
// float64 reference.
const whisperTol = 1e-4

// tinyWhisper generates the tiny preset of model id into a fresh directory
// and returns it with the dimensions read back from config.json.
func tinyWhisper(t *testing.T, id string) (string, WhisperDims) {
	t.Helper()
	root := t.TempDir()
	if err := Generate(context.Background(), Options{Preset: Tiny, OutDir: root}, []string{id}, io.Discard); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, filepath.FromSlash(id))
	var cfg struct {
		DModel        int `json:"d_model"`
		Heads         int `json:"decoder_attention_heads"`
		EncoderLayers int `json:"encoder_layers"`
		DecoderLayers int `json:"decoder_layers"`
		FFN           int `json:"decoder_ffn_dim"`
		Mels          int `json:"num_mel_bins"`
		Vocab         int `json:"vocab_size"`
	}
	m2mReadJSON(t, filepath.Join(dir, "config.json"), &cfg)
	return dir, WhisperDims{DModel: cfg.DModel, Heads: cfg.Heads, EncoderLayers: cfg.EncoderLayers,
		DecoderLayers: cfg.DecoderLayers, FFN: cfg.FFN, Mels: cfg.Mels, Vocab: cfg.Vocab}
}

// whisperFeatures is a batch of two pseudo-random log-mel inputs in
// [-1, 1], the range WhisperFeatureExtractor's (x+4)/4 scaling gives.
func whisperFeatures(d WhisperDims) []float32 {
	rng := rand.New(rand.NewPCG(7, 22))
	f := make([]float32, 2*d.Mels*WhisperFrames)
	for i := range f {
		f[i] = float32(2*rng.Float64() - 1)
	}
	return f
}

func whisperEncode(t *testing.T, dir, file string, d WhisperDims, features []float32) m2mOut {
	t.Helper()
	feeds := m2mFeeds{}
	feeds.floats("input_features", features, 2, int64(d.Mels), WhisperFrames)
	return m2mRun(t, m2mSession(t, dir, file), feeds)["last_hidden_state"]
}

// whisperPrompt is each item's decoder prompt: <|startoftranscript|>, a
// language (multilingual) or <|notimestamps|>, a task or a text token, and
// one more token for the cached step.
func whisperPrompt(d WhisperDims) [][]int64 {
	s := newWhisperSpecial(d.Vocab == newWhisperSpecial(true).vocab())
	return [][]int64{
		{int64(s.sot), int64(s.firstLanguage), int64(s.transcribe), 1169},
		{int64(s.sot), int64(s.firstLanguage + 2), int64(s.noTimestamps), int64(s.timestampBegin + 25)},
	}
}

// whisperDecoderFeeds feeds the merged decoder the first steps tokens of
// each prompt, with past (use_cache_branch) or with empty past tensors.
func whisperDecoderFeeds(d WhisperDims, enc m2mOut, ids []int64, steps int64, past map[string]m2mOut) m2mFeeds {
	feeds := m2mFeeds{}
	feeds.int64s("input_ids", ids, 2, steps)
	feeds.floats("encoder_hidden_states", enc.data, enc.shape...)
	for i := range d.DecoderLayers {
		for _, part := range []string{"decoder.key", "decoder.value", "encoder.key", "encoder.value"} {
			if p, ok := past[m2m100CacheName("present", i, part)]; ok {
				feeds.floats(m2m100CacheName("past_key_values", i, part), p.data, p.shape...)
			} else {
				feeds.floats(m2m100CacheName("past_key_values", i, part), []float32{}, 2, int64(d.Heads), 0, int64(d.HeadDim()))
			}
		}
	}
	feeds.bools("use_cache_branch", []bool{past != nil}, 1)
	return feeds
}

// TestWhisperMatchesReference runs the generated encoder and merged decoder
// on ONNX Runtime and checks them against the float64 reference: encoder
// states, the first step's logits, presents and cross-attention weights
// (no cache), then a cached step's.
func TestWhisperMatchesReference(t *testing.T) {
	t.Parallel()
	for _, id := range []string{WhisperTinyEnID, WhisperLargeV3TurboID} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			dir, d := tinyWhisper(t, id)
			features := whisperFeatures(d)
			enc := whisperEncode(t, dir, "encoder_model.onnx", d, features)
			if !slices.Equal(enc.shape, []int64{2, WhisperSourcePositions, int64(d.DModel)}) {
				t.Fatalf("last_hidden_state shape %v", enc.shape)
			}
			encRef := loadWhisperRef(t, filepath.Join(dir, "onnx", "encoder_model.onnx"), d)
			decRef := loadWhisperRef(t, filepath.Join(dir, "onnx", "decoder_model_merged.onnx"), d)
			merged := m2mSession(t, dir, "decoder_model_merged.onnx")
			prompts := whisperPrompt(d)

			const steps = 3
			var first []int64
			for _, p := range prompts {
				first = append(first, p[:steps]...)
			}
			step1 := m2mRun(t, merged, whisperDecoderFeeds(d, enc, first, steps, nil))
			step2 := m2mRun(t, merged, whisperDecoderFeeds(d, enc, []int64{prompts[0][steps], prompts[1][steps]}, 1, step1))

			for b := range 2 {
				mels := newM2MMat(d.Mels, WhisperFrames)
				for m := range d.Mels {
					for f := range WhisperFrames {
						mels[m][f] = float64(features[(b*d.Mels+m)*WhisperFrames+f])
					}
				}
				states := m2mRows(enc.data, b, WhisperSourcePositions, d.DModel)
				// The float64 encoder is the slow part of the test: it runs
				// on the first item, the second shows in the decoder's.
				if b == 0 {
					if diff := m2mMaxDiff(states, encRef.encode(mels)); diff > whisperTol {
						t.Errorf("item %d: encoder states differ from the reference by %g", b, diff)
					}
				}
				// The decoder reference reads ORT's encoder states, so each
				// comparison isolates one file.
				ref := decRef.decode(prompts[b], states)
				whisperCompareStep(t, "first step", step1, ref, b, 0, steps, d)
				whisperCompareStep(t, "cached step", step2, ref, b, steps, steps+1, d)
			}
			checkEmptyEncoderPresents(t, "cached step", step2, d.DecoderLayers, d.Heads, d.DModel/d.Heads)
		})
	}
}

// whisperCompareStep compares one decoder call's outputs for item b, which
// fed the prompt's tokens from..to-1, with the uncached reference over the
// prompt's first to tokens.
func whisperCompareStep(t *testing.T, what string, got map[string]m2mOut, ref whisperRefStep, b, from, to int, d WhisperDims) {
	t.Helper()
	n := to - from
	if diff := m2mMaxDiff(m2mRows(got["logits"].data, b, n, d.Vocab), ref.logits[from:to]); diff > whisperTol {
		t.Errorf("%s, item %d: logits differ from the reference by %g", what, b, diff)
	}
	heads := M2M100Dims{DModel: d.DModel, Heads: d.Heads}
	for i, c := range ref.caches {
		for name, want := range map[string]m2mMat{"decoder.key": c.selfK[:to], "decoder.value": c.selfV[:to], "encoder.key": c.crossK, "encoder.value": c.crossV} {
			if from > 0 && strings.HasPrefix(name, "encoder.") {
				continue // the cache branch's are empty (checkEmptyEncoderPresents)
			}
			out := got[m2m100CacheName("present", i, name)]
			if diff := m2mMaxDiff(m2mHeads(out.data, b, len(want), heads), want); diff > whisperTol {
				t.Errorf("%s, item %d: present.%d.%s differs from the reference by %g", what, b, i, name, diff)
			}
		}
		cross := got[fmtCross(i)]
		if !slices.Equal(cross.shape, []int64{2, int64(d.Heads), int64(n), WhisperSourcePositions}) {
			t.Errorf("%s: %s has shape %v", what, fmtCross(i), cross.shape)
			continue
		}
		worst := 0.0
		for h := range d.Heads {
			for q := range n {
				row := cross.data[((b*d.Heads+h)*n+q)*WhisperSourcePositions:][:WhisperSourcePositions]
				for s, v := range row {
					worst = max(worst, math.Abs(float64(v)-ref.cross[i][h][from+q][s]))
				}
			}
		}
		if worst > whisperTol || math.IsNaN(worst) {
			t.Errorf("%s, item %d: %s differs from the reference by %g", what, b, fmtCross(i), worst)
		}
	}
}

func fmtCross(layer int) string { return "cross_attentions." + string(rune('0'+layer)) }
