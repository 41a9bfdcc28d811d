package synth

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	onnx "github.com/yalue/onnxruntime_go"
	"golang.org/x/text/unicode/norm"
	"google.golang.org/protobuf/proto"

	"github.com/edgeinfer/edgeinfer/models/onnxfile"
	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
	"github.com/edgeinfer/edgeinfer/tokenize/spm/spmpb"
)

var m2m100Files = []string{"encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx", "decoder_model_merged.onnx",
	"encoder_model_quantized.onnx", "decoder_model_quantized.onnx", "decoder_with_past_model_quantized.onnx", "decoder_model_merged_quantized.onnx"}

// m2m100Contract is docs/model-files.md §3.3–3.6 for dims d: every input
// and output with dtype and axes (named dynamic axes or fixed sizes).
func m2m100Contract(d M2M100Dims) map[string][2][]onnxfile.Value {
	dyn, fix := onnxgraph.Dynamic, onnxgraph.Fixed
	f32, i64 := onnxgraph.Float, onnxgraph.Int64
	batch, encSeq, decSeq := dyn("batch_size"), dyn("encoder_sequence_length"), dyn("decoder_sequence_length")
	heads, headDim, model, vocab := fix(int64(d.Heads)), fix(int64(d.HeadDim())), fix(int64(d.DModel)), fix(int64(d.Vocab))
	v := func(name string, t onnxgraph.DataType, dims ...onnxgraph.Dim) onnxfile.Value {
		return onnxfile.Value{Name: name, Type: t, Dims: dims}
	}
	cache := func(prefix string, decoderSeq onnxgraph.Dim, withEncoder bool) []onnxfile.Value {
		var vals []onnxfile.Value
		for i := range d.DecoderLayers {
			vals = append(vals,
				v(fmt.Sprintf("%s.%d.decoder.key", prefix, i), f32, batch, heads, decoderSeq, headDim),
				v(fmt.Sprintf("%s.%d.decoder.value", prefix, i), f32, batch, heads, decoderSeq, headDim))
			if withEncoder {
				vals = append(vals,
					v(fmt.Sprintf("%s.%d.encoder.key", prefix, i), f32, batch, heads, dyn("encoder_sequence_length_out"), headDim),
					v(fmt.Sprintf("%s.%d.encoder.value", prefix, i), f32, batch, heads, dyn("encoder_sequence_length_out"), headDim))
			}
		}
		return vals
	}
	encMask := v("encoder_attention_mask", i64, batch, encSeq)
	encStates := v("encoder_hidden_states", f32, batch, encSeq, model)
	past := cache("past_key_values", dyn("past_decoder_sequence_length"), true)
	return map[string][2][]onnxfile.Value{
		"encoder_model.onnx": {
			{v("input_ids", i64, batch, encSeq), v("attention_mask", i64, batch, encSeq)},
			{v("last_hidden_state", f32, batch, encSeq, model)},
		},
		"decoder_model.onnx": {
			{encMask, v("input_ids", i64, batch, decSeq), encStates},
			slices.Concat([]onnxfile.Value{v("logits", f32, batch, decSeq, vocab)}, cache("present", decSeq, true)),
		},
		"decoder_with_past_model.onnx": {
			slices.Concat([]onnxfile.Value{encMask, v("input_ids", i64, batch, fix(1))}, past),
			slices.Concat([]onnxfile.Value{v("logits", f32, batch, fix(1), vocab)},
				cache("present", dyn("past_decoder_sequence_length + 1"), false)),
		},
		"decoder_model_merged.onnx": {
			slices.Concat([]onnxfile.Value{encMask, v("input_ids", i64, batch, decSeq), encStates}, past,
				[]onnxfile.Value{v("use_cache_branch", onnxgraph.Bool, fix(1))}),
			slices.Concat([]onnxfile.Value{v("logits", f32, batch, decSeq, vocab)},
				cache("present", dyn("past_decoder_sequence_length + decoder_sequence_length"), true)),
		},
	}
}

func TestM2M100FilesMatchTheContract(t *testing.T) {
	dir, d := tinyM2M100(t, 0)
	for base, want := range m2m100Contract(d) {
		// The int8 files have the fp32 files' interface.
		for _, file := range []string{base, strings.TrimSuffix(base, ".onnx") + "_quantized.onnx"} {
			m2mCheckContract(t, dir, file, want)
			path := filepath.Join(dir, "onnx", file)
			if _, err := os.Stat(path + "_data"); !os.IsNotExist(err) {
				t.Errorf("%s: a tiny model should keep its weights inline (stat %s_data: %v)", file, path, err)
			}
		}
	}
}

func m2mCheckContract(t *testing.T, dir, file string, want [2][]onnxfile.Value) {
	t.Helper()
	same := func(a, b onnxfile.Value) bool {
		return a.Name == b.Name && a.Type == b.Type && slices.Equal(a.Dims, b.Dims)
	}
	path := filepath.Join(dir, "onnx", file)
	ins, outs, err := onnxfile.ReadInterface(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(ins, want[0], same) {
		t.Errorf("%s inputs:\n got %v\nwant %v", file, ins, want[0])
	}
	if !slices.EqualFunc(outs, want[1], same) {
		t.Errorf("%s outputs:\n got %v\nwant %v", file, outs, want[1])
	}
	// ONNX Runtime must read the same interface: names, element types,
	// ranks, fixed sizes (dynamic axes are -1).
	s := m2mSession(t, dir, file)
	for _, side := range []struct {
		declared []onnxfile.Value
		got      []string
	}{{want[0], infoStrings(s.Inputs())}, {want[1], infoStrings(s.Outputs())}} {
		var expect []string
		for _, v := range side.declared {
			expect = append(expect, ortInfoString(v))
		}
		if !slices.Equal(side.got, expect) {
			t.Errorf("%s as ONNX Runtime sees it:\n got %v\nwant %v", file, side.got, expect)
		}
	}
}

func infoStrings[T fmt.Stringer](infos []T) []string {
	s := make([]string, len(infos))
	for i, info := range infos {
		s[i] = info.String()
	}
	return s
}

// ortInfoString renders a contract value the way ort.Info prints.
func ortInfoString(v onnxfile.Value) string {
	types := map[onnxgraph.DataType]onnx.TensorElementDataType{
		onnxgraph.Float: onnx.TensorElementDataTypeFloat,
		onnxgraph.Int64: onnx.TensorElementDataTypeInt64,
		onnxgraph.Bool:  onnx.TensorElementDataTypeBool,
	}
	shape := make([]int64, len(v.Dims))
	for i, dim := range v.Dims {
		shape[i] = -1
		if dim.Param == "" {
			shape[i] = dim.Size
		}
	}
	return fmt.Sprintf("%s %v %v", v.Name, types[v.Type], shape)
}

// TestM2M100WeightsAreStoredOnce checks the layout behind the real file
// sizes: the with-past decoder lacks the cross-attention key/value
// projections it never uses, the merged decoder keeps every weight once in
// its main graph (its branches hold only small constants), and encoder and
// decoder carry the same shared embedding.
func TestM2M100WeightsAreStoredOnce(t *testing.T) {
	dir, _ := tinyM2M100(t, 0)
	read := func(file string) (map[string][]float32, *m2mGraphStats) {
		m, err := onnxfile.ReadModel(filepath.Join(dir, "onnx", file))
		if err != nil {
			t.Fatal(err)
		}
		vals := map[string][]float32{}
		for _, init := range m.GetGraph().GetInitializer() {
			if !strings.HasPrefix(init.GetName(), "model.") {
				continue // shape and scalar constants
			}
			if _, dup := vals[init.GetName()]; dup {
				t.Errorf("%s stores %s twice", file, init.GetName())
			}
			vals[init.GetName()], err = onnxfile.Float32Values(init, dir)
			if err != nil {
				t.Fatal(err)
			}
		}
		stats := &m2mGraphStats{}
		for _, n := range m.GetGraph().GetNode() {
			for _, a := range n.GetAttribute() {
				if g := a.GetG(); g != nil {
					stats.branches++
					for _, init := range g.GetInitializer() {
						stats.branchValues = max(stats.branchValues, onnxgraph.NumElements(init.GetDims()))
					}
				}
			}
		}
		return vals, stats
	}
	enc, _ := read("encoder_model.onnx")
	first, _ := read("decoder_model.onnx")
	past, _ := read("decoder_with_past_model.onnx")
	merged, stats := read("decoder_model_merged.onnx")

	if !slices.Equal(enc["model.shared.weight"], first["model.shared.weight"]) {
		t.Error("encoder and decoder embeddings differ; M2M100 shares one")
	}
	for name := range first {
		cross := strings.Contains(name, "encoder_attn.k_proj") || strings.Contains(name, "encoder_attn.v_proj")
		if _, ok := past[name]; ok == cross {
			t.Errorf("decoder_with_past has %s: %v (cross-attention K/V projection: %v)", name, ok, cross)
		}
		if !slices.Equal(merged[name], first[name]) {
			t.Errorf("merged decoder's %s differs from decoder_model's", name)
		}
	}
	if len(merged) != len(first) {
		t.Errorf("merged decoder has %d weights, decoder_model %d", len(merged), len(first))
	}
	if stats.branches != 2 || stats.branchValues > 4 {
		t.Errorf("merged decoder: %d branches, largest branch constant %d values (weights belong in the main graph)", stats.branches, stats.branchValues)
	}
	if _, ok := first["lm_head.weight"]; ok {
		t.Error("the LM head is tied to model.shared.weight and must not be stored again")
	}
}

type m2mGraphStats struct {
	branches     int
	branchValues int64
}

func TestM2M100TokenizerFiles(t *testing.T) {
	dir, d := tinyM2M100(t, 0)
	model := m2mReadSPM(t, dir)
	ts, ns := model.GetTrainerSpec(), model.GetNormalizerSpec()
	if ts.GetModelType() != spmpb.TrainerSpec_BPE || ts.GetByteFallback() {
		t.Errorf("trainer spec: model type %v, byte fallback %v; M2M100's is BPE without byte fallback", ts.GetModelType(), ts.GetByteFallback())
	}
	if ts.GetBosId() != 0 || ts.GetPadId() != 1 || ts.GetEosId() != 2 || ts.GetUnkId() != 3 || int(ts.GetVocabSize()) != len(model.GetPieces()) {
		t.Errorf("trainer spec ids bos %d pad %d eos %d unk %d, vocab %d for %d pieces",
			ts.GetBosId(), ts.GetPadId(), ts.GetEosId(), ts.GetUnkId(), ts.GetVocabSize(), len(model.GetPieces()))
	}
	if ns.GetName() != "nmt_nfkc" || !ns.GetAddDummyPrefix() || !ns.GetRemoveExtraWhitespaces() || !ns.GetEscapeWhitespaces() || len(ns.GetPrecompiledCharsmap()) < 100_000 {
		t.Errorf("normalizer %q dummy prefix %v, collapse %v, escape %v, charsmap %d bytes",
			ns.GetName(), ns.GetAddDummyPrefix(), ns.GetRemoveExtraWhitespaces(), ns.GetEscapeWhitespaces(), len(ns.GetPrecompiledCharsmap()))
	}
	wantSpecial := []struct {
		piece string
		typ   spmpb.ModelProto_SentencePiece_Type
	}{
		{"<s>", spmpb.ModelProto_SentencePiece_CONTROL}, {"<pad>", spmpb.ModelProto_SentencePiece_CONTROL},
		{"</s>", spmpb.ModelProto_SentencePiece_CONTROL}, {"<unk>", spmpb.ModelProto_SentencePiece_UNKNOWN},
	}
	seen := map[string]bool{}
	for i, p := range model.GetPieces() {
		if seen[p.GetPiece()] {
			t.Errorf("piece %q appears twice", p.GetPiece())
		}
		seen[p.GetPiece()] = true
		if i < len(wantSpecial) {
			if p.GetPiece() != wantSpecial[i].piece || p.GetType() != wantSpecial[i].typ {
				t.Errorf("piece %d = %q %v, want %q %v", i, p.GetPiece(), p.GetType(), wantSpecial[i].piece, wantSpecial[i].typ)
			}
			continue
		}
		if p.GetType() != spmpb.ModelProto_SentencePiece_NORMAL || p.GetScore() != -float32(i-len(wantSpecial)) {
			t.Errorf("piece %d %q: type %v score %v; BPE pieces are NORMAL and scored by rank", i, p.GetPiece(), p.GetType(), p.GetScore())
		}
		body := strings.TrimPrefix(p.GetPiece(), "▁")
		if strings.Contains(body, "▁") || utf8.RuneCountInString(p.GetPiece()) > 16 || p.GetPiece() == "" {
			t.Errorf("piece %q breaks SentencePiece's piece rules", p.GetPiece())
		}
	}

	vocab := m2mReadVocab(t, dir)
	if len(vocab) != len(model.GetPieces()) {
		t.Fatalf("vocab.json has %d entries, the model %d pieces", len(vocab), len(model.GetPieces()))
	}
	ids := map[int]bool{}
	moved := 0
	for i, p := range model.GetPieces() {
		id, ok := vocab[p.GetPiece()]
		if !ok {
			t.Fatalf("piece %q is missing from vocab.json", p.GetPiece())
		}
		ids[id] = true
		if i < len(wantSpecial) && id != i {
			t.Errorf("vocab.json[%q] = %d, fairseq puts it at %d", p.GetPiece(), id, i)
		}
		if id != i {
			moved++
		}
	}
	if len(ids) != len(vocab) || !ids[0] || !ids[len(vocab)-1] {
		t.Errorf("vocab.json ids are not 0..%d", len(vocab)-1)
	}
	if moved == 0 {
		t.Error("vocab.json ids equal SentencePiece ids everywhere; the real files differ, so consumers must map through vocab.json")
	}

	var cfg map[string]any
	m2mReadJSON(t, filepath.Join(dir, "config.json"), &cfg)
	if cfg[MarkerKey] != true || cfg["model_type"] != "m2m_100" || cfg["scale_embedding"] != true || cfg["activation_function"] != "relu" {
		t.Errorf("config.json: %v", cfg)
	}
	if want := float64(len(vocab) + 100 + 8); cfg["vocab_size"] != want || d.Vocab != int(want) {
		t.Errorf("vocab_size %v, want len(vocab.json)+108 = %v", cfg["vocab_size"], want)
	}
	var gen map[string]any
	m2mReadJSON(t, filepath.Join(dir, "generation_config.json"), &gen)
	for k, want := range map[string]any{"num_beams": 5.0, "max_length": 200.0, "early_stopping": true,
		"decoder_start_token_id": 2.0, "eos_token_id": 2.0, "pad_token_id": 1.0, "bos_token_id": 0.0} {
		if gen[k] != want {
			t.Errorf("generation_config.json %s = %v, want %v", k, gen[k], want)
		}
	}
	for _, file := range []string{"tokenizer_config.json", "special_tokens_map.json"} {
		var tc struct {
			Additional []string `json:"additional_special_tokens"`
			BOS        string   `json:"bos_token"`
			EOS        string   `json:"eos_token"`
			Pad        string   `json:"pad_token"`
			Unk        string   `json:"unk_token"`
		}
		m2mReadJSON(t, filepath.Join(dir, file), &tc)
		if len(tc.Additional) != 100 || tc.Additional[0] != "__af__" || tc.Additional[18] != "__en__" || tc.Additional[99] != "__zu__" {
			t.Errorf("%s: additional_special_tokens %v", file, tc.Additional)
		}
		if tc.BOS != "<s>" || tc.EOS != "</s>" || tc.Pad != "<pad>" || tc.Unk != "<unk>" {
			t.Errorf("%s: special tokens %+v", file, tc)
		}
		for _, tok := range tc.Additional {
			if _, ok := vocab[tok]; ok {
				t.Errorf("%s is in vocab.json; M2M100 numbers language tokens after it", tok)
			}
		}
	}
}

func m2mReadSPM(t *testing.T, dir string) *spmpb.ModelProto {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "sentencepiece.bpe.model"))
	if err != nil {
		t.Fatal(err)
	}
	m := &spmpb.ModelProto{}
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func m2mReadVocab(t *testing.T, dir string) map[string]int {
	t.Helper()
	var vocab map[string]int
	m2mReadJSON(t, filepath.Join(dir, "vocab.json"), &vocab)
	return vocab
}

// m2mSPMEncode is SentencePiece's BPE encoder as M2M100Tokenizer runs it,
// written from the model file alone: nmt_nfkc (NFKC, whitespace trimmed
// and collapsed), a dummy prefix, spaces as ▁, then per word the adjacent
// pair whose union has the highest score merges first (leftmost on ties).
// Pieces map to ids through vocab.json, unknown ones to <unk>.
func m2mSPMEncode(text string, model *spmpb.ModelProto, vocab map[string]int) []int {
	score := map[string]float32{}
	for _, p := range model.GetPieces() {
		if p.GetType() == spmpb.ModelProto_SentencePiece_NORMAL {
			score[p.GetPiece()] = p.GetScore()
		}
	}
	var ids []int
	for _, word := range strings.Fields(norm.NFKC.String(text)) {
		var syms []string
		for _, r := range "▁" + word {
			syms = append(syms, string(r))
		}
		for {
			best := -1
			for i := 0; i+1 < len(syms); i++ {
				if s, ok := score[syms[i]+syms[i+1]]; ok && (best < 0 || s > score[syms[best]+syms[best+1]]) {
					best = i
				}
			}
			if best < 0 {
				break
			}
			syms = slices.Replace(syms, best, best+2, syms[best]+syms[best+1])
		}
		for _, s := range syms {
			id, ok := vocab[s]
			if !ok {
				id = vocab["<unk>"]
			}
			ids = append(ids, id)
		}
	}
	return ids
}

func TestM2M100TokenizerRoundTrip(t *testing.T) {
	dir, _ := tinyM2M100(t, 0)
	model, vocab := m2mReadSPM(t, dir), m2mReadVocab(t, dir)
	pieceOf := map[int]string{}
	for p, id := range vocab {
		pieceOf[id] = p
	}
	decode := func(ids []int) string {
		var b strings.Builder
		for _, id := range ids {
			b.WriteString(pieceOf[id])
		}
		return strings.TrimPrefix(strings.ReplaceAll(b.String(), "▁", " "), " ")
	}
	for _, text := range []string{
		"The translator reads the window and the garden.",
		"  Die kleine Brücke,   der größte Markt!  ",
		"Où est le café ? ¿Dónde está el jardín?",
		"Каждое утро: новости и чашка чая.",
		"東京の小さなコンピューター、翻訳エンジン？", // the full-width ？ normalizes to ASCII
		"번역 엔진 🙂 🚀 42",
	} {
		ids := m2mSPMEncode(text, model, vocab)
		if slices.Contains(ids, m2m100UnkID) {
			t.Errorf("%q encodes with <unk>: %v", text, ids)
		}
		if got, want := decode(ids), strings.Join(strings.Fields(norm.NFKC.String(text)), " "); got != want {
			t.Errorf("round trip of %q gave %q", text, got)
		}
		if len(ids) >= utf8.RuneCountInString(text) {
			t.Errorf("%q: %d pieces for %d characters, no merges applied", text, len(ids), utf8.RuneCountInString(text))
		}
	}
	if ids := m2mSPMEncode("Ωmega ☃", model, vocab); !slices.Contains(ids, m2m100UnkID) {
		t.Errorf("characters outside the corpus should encode as <unk>, got %v", ids)
	}
}

func TestM2M100FullVocabularyHasTheRealSize(t *testing.T) {
	v, err := newM2M100Vocab(m2m100FullDictSize)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.pieces) != 128004 || len(v.dict) != 128004 {
		t.Fatalf("%d pieces, %d dictionary entries; M2M100's vocab.json has 128004", len(v.pieces), len(v.dict))
	}
	seen := map[string]bool{}
	for _, p := range v.pieces {
		body := strings.TrimPrefix(p, "▁")
		if seen[p] || p == "" || strings.Contains(body, "▁") || utf8.RuneCountInString(p) > 16 {
			t.Fatalf("piece %q is repeated or breaks SentencePiece's piece rules", p)
		}
		seen[p] = true
	}
	for _, p := range v.dict {
		if !seen[p] {
			t.Fatalf("dictionary entry %q is not a piece", p)
		}
	}
	// The tokenizer's arithmetic then lands where the real one does.
	en := len(v.dict) + slices.Index(m2m100LanguageCodes, "en")
	if vocabSize := len(v.dict) + len(m2m100LanguageCodes) + m2m100MadeUpWords; vocabSize != 128112 || en != 128022 {
		t.Errorf("vocab_size %d, __en__ %d; M2M100 has 128112 and 128022", vocabSize, en)
	}
}

func TestM2M100PresetDims(t *testing.T) {
	cases := []struct {
		size            string
		layers, ffn     int
		wantErrContains string
	}{
		{"", 12, 4096, ""}, {"418M", 12, 4096, ""}, {"1.2B", 24, 8192, ""}, {"3B", 0, 0, "unknown size"},
	}
	for _, c := range cases {
		d, err := M2M100PresetDims(Options{Preset: Full, M2M100Size: c.size})
		if c.wantErrContains != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErrContains) {
				t.Errorf("size %q: error %v", c.size, err)
			}
			continue
		}
		if err != nil || d.DModel != 1024 || d.Heads != 16 || d.HeadDim() != 64 || d.EncoderLayers != c.layers ||
			d.DecoderLayers != c.layers || d.FFN != c.ffn || d.MaxPositions != 1024 || d.DictSize != 128004 {
			t.Errorf("size %q: %+v, %v", c.size, d, err)
		}
	}
}

func TestM2M100GenerationIsDeterministic(t *testing.T) {
	a, _ := tinyM2M100(t, 0)
	b, _ := tinyM2M100(t, 0)
	c, _ := tinyM2M100(t, 7)
	files := []string{"sentencepiece.bpe.model", "vocab.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"}
	for _, f := range m2m100Files {
		files = append(files, filepath.Join("onnx", f))
	}
	for _, f := range append(files, "config.json") {
		x, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		y, _ := os.ReadFile(filepath.Join(b, f))
		z, _ := os.ReadFile(filepath.Join(c, f))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with the same seed", f)
		}
		isWeights := strings.HasSuffix(f, ".onnx") || f == "config.json" // config records the seed
		if bytes.Equal(x, z) == isWeights {
			t.Errorf("%s: equal across seeds = %v; only weights (and the recorded seed) should change", f, bytes.Equal(x, z))
		}
	}
}
