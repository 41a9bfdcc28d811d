package spm

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/edgeinfer/edgeinfer/models/synth"
	"github.com/edgeinfer/edgeinfer/tokenize/spm/spmpb"
)

var (
	synthOnce sync.Once
	synthProc *Processor
	synthErr  error
)

// synthetic loads the sentencepiece.bpe.model of the synthetic M2M100. Its
// pieces come from an embedded corpus and do not depend on the weight seed,
// so the known answers below hold for every generated model.
func synthetic(t *testing.T) *Processor {
	t.Helper()
	synthOnce.Do(func() {
		// The model is read into memory, so the first caller's temporary
		// directory may go when that test ends.
		dir := t.TempDir()
		if synthErr = synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: dir}, []string{synth.M2M100ModelID}, io.Discard); synthErr != nil {
			return
		}
		synthProc, synthErr = Load(filepath.Join(dir, filepath.FromSlash(synth.M2M100ModelID), "sentencepiece.bpe.model"))
	})
	if synthErr != nil {
		t.Fatal(synthErr)
	}
	return synthProc
}

// The expected pieces and ids are what SentencePiece 0.1.97 (Debian's
// spm_encode, --output_format=piece and =id) gives for the synthetic model.
var knownAnswers = []struct {
	text   string
	pieces string
	ids    []int
}{
	{"The translator reads the window and the garden.",
		"▁The ▁translator ▁ read s ▁the ▁w ind ow ▁and ▁the ▁g ard en .",
		[]int{122, 202, 394, 259, 402, 45, 102, 239, 72, 50, 45, 93, 105, 5, 409}},
	// Accents, and whitespace trimmed and collapsed.
	{"  Die kleine Brücke,   der größte Markt!  ",
		"▁Die ▁kleine ▁B r ü c k e , ▁der ▁g r ö ß te ▁M ar k t !",
		[]int{314, 336, 312, 400, 465, 406, 412, 395, 422, 193, 93, 400, 450, 572, 39, 49, 27, 412, 398, 493}},
	{"Où est le café ? ¿Dónde está el jardín?",
		"▁O ù ▁est ▁le ▁café ▁? ▁ ¿ D ón de ▁est á ▁el ▁jard í n ?",
		[]int{189, 664, 195, 78, 192, 311, 394, 656, 461, 163, 106, 195, 438, 194, 335, 499, 397, 448}},
	{"Каждое утро: новости и чашка чая.",
		"▁ К а ж до е ▁у т ро : ▁ н о во с ти ▁ и ▁ча ш ка ▁ча я .",
		[]int{394, 681, 414, 683, 167, 418, 377, 419, 290, 564, 394, 436, 417, 87, 441, 90, 394, 429, 378, 684, 175, 378, 486, 409}},
	// CJK; the full-width ？ normalizes to ASCII.
	{"東京の小さなコンピューター、翻訳エンジン？",
		"▁ 東 京 の 小 さ な コ ン ピ ュー タ ー 、 翻訳 エ ン ジ ン ?",
		[]int{394, 806, 784, 619, 624, 767, 618, 621, 560, 782, 390, 779, 491, 616, 392, 776, 560, 777, 560, 448}},
	// Hangul, emoji, digits split one by one.
	{"번역 엔진 🙂 🚀 42",
		"▁번역 ▁ 엔 진 ▁ 🙂 ▁ 🚀 ▁4 2",
		[]int{387, 394, 848, 860, 394, 873, 394, 874, 310, 476}},
	// Unknown characters (Ω, ☃, 株 after ㈱ → (株)) and nmt_nfkc folding of
	// full-width letters, ① and the ﬁ ligature.
	{"Ωmega ☃ ｆｕｌｌ ① ﬁ ㈱",
		"▁ Ω m e g a ▁ ☃ ▁f u ll ▁1 ▁f i ▁ ( 株 )",
		[]int{394, 3, 407, 395, 411, 396, 394, 3, 32, 404, 110, 309, 32, 399, 394, 638, 3, 639}},
	// Half-width katakana folds to full width; the unknown run カク is one piece.
	{"ﾊﾝｶｸ", "▁ ハ ン カク", []int{394, 3, 560, 3}},
}

func TestEncodeKnownAnswers(t *testing.T) {
	p := synthetic(t)
	for _, c := range knownAnswers {
		if got := strings.Join(p.EncodePieces(c.text), " "); got != c.pieces {
			t.Errorf("EncodePieces(%q)\n got %s\nwant %s", c.text, got, c.pieces)
		}
		if got := p.Encode(c.text); !slices.Equal(got, c.ids) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.ids)
		}
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	p := synthetic(t)
	for _, c := range knownAnswers {
		pieces := p.EncodePieces(c.text)
		// Decoding gives back the normalized text, minus the dummy prefix.
		want := strings.TrimPrefix(strings.ReplaceAll(p.Normalize(c.text), "▁", " "), " ")
		if got := p.Decode(pieces); got != want {
			t.Errorf("Decode(EncodePieces(%q)) = %q, want %q", c.text, got, want)
		}
	}
}

func TestNormalize(t *testing.T) {
	p := synthetic(t)
	for _, c := range []struct{ in, want string }{
		{"hello", "▁hello"},
		{"  two   spaces  ", "▁two▁spaces"},
		{"\ttab\u3000ideographic", "▁tab▁ideographic"},
		{"ｆｕｌｌ", "▁full"},
		{"ﬁ ① ㈱", "▁fi▁1▁(株)"},
		{"", ""},
		{"   ", ""},
		{"bad \xe2\x82 utf8", "▁bad▁\uFFFD\uFFFD▁utf8"},
	} {
		if got := p.Normalize(c.in); got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestDecodeSpecialPieces(t *testing.T) {
	p := synthetic(t)
	for _, c := range []struct {
		pieces []string
		want   string
	}{
		{[]string{"<s>", "▁the", "▁w", "ind", "ow", "</s>"}, "the window"},
		{[]string{"▁", "▁the"}, "the"},         // every leading space goes
		{[]string{"<unk>", "▁the"}, " ⁇  the"}, // <unk> shows as the unknown surface
		{[]string{"▁the", "Ω"}, "theΩ"},        // a piece outside the vocabulary is itself
		{nil, ""},
	} {
		if got := p.Decode(c.pieces); got != c.want {
			t.Errorf("Decode(%q) = %q, want %q", c.pieces, got, c.want)
		}
	}
}

// handModel is a small BPE model with a user-defined piece, an unused piece
// and no charsmap. Its expected segmentations were checked against
// spm_encode 0.1.97.
func handModel(t *testing.T, collapse bool) *Processor {
	t.Helper()
	N, U, C, K, D := spmpb.ModelProto_SentencePiece_NORMAL, spmpb.ModelProto_SentencePiece_UNUSED,
		spmpb.ModelProto_SentencePiece_CONTROL, spmpb.ModelProto_SentencePiece_UNKNOWN, spmpb.ModelProto_SentencePiece_USER_DEFINED
	pc := func(s string, score float32, typ spmpb.ModelProto_SentencePiece_Type) *spmpb.ModelProto_SentencePiece {
		return &spmpb.ModelProto_SentencePiece{Piece: proto.String(s), Score: proto.Float32(score), Type: typ.Enum()}
	}
	m := &spmpb.ModelProto{
		Pieces: []*spmpb.ModelProto_SentencePiece{
			pc("<unk>", 0, K), pc("<s>", 0, C), pc("</s>", 0, C), pc("[X]", 0, D),
			pc("ab", -1, N), pc("bc", -0.5, U), pc("abc", -2, N), pc("▁a", -3, N),
			pc("▁", -4, N), pc("a", -5, N), pc("b", -6, N), pc("c", -7, N),
		},
		TrainerSpec: &spmpb.TrainerSpec{ModelType: spmpb.TrainerSpec_BPE.Enum(), UnkId: proto.Int32(0)},
		NormalizerSpec: &spmpb.NormalizerSpec{Name: proto.String("identity"), AddDummyPrefix: proto.Bool(true),
			RemoveExtraWhitespaces: proto.Bool(collapse), EscapeWhitespaces: proto.Bool(true)},
	}
	raw, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMergeOrderUnusedAndUserDefinedPieces(t *testing.T) {
	for _, c := range []struct {
		collapse   bool
		text, want string
	}{
		// bc (-0.5) merges before ab (-1), then a+bc forms abc.
		{false, "abc", "▁ abc"},
		// bc is unused: it is split back into the pieces it came from.
		{false, "bc", "▁ b c"},
		// A user-defined piece is matched whole and blocks merges across it.
		{false, "a[X]b", "▁a [X] b"},
		{false, "a  b ", "▁a ▁ ▁ b ▁"},
		{false, "  ab  c", "▁ ▁ ▁ ab ▁ ▁ c"},
		{true, "a  b ", "▁a ▁ b"},
		{true, "  ab  c", "▁ ab ▁ c"},
		{true, "abcabc", "▁ abc abc"},
		{true, "zab", "▁ z ab"},
	} {
		p := handModel(t, c.collapse)
		if got := strings.Join(p.EncodePieces(c.text), " "); got != c.want {
			t.Errorf("collapse=%v: EncodePieces(%q) = %q, want %q", c.collapse, c.text, got, c.want)
		}
	}
}

func TestParseRefusesWhatItCannotEncode(t *testing.T) {
	base := func() *spmpb.ModelProto {
		return &spmpb.ModelProto{
			Pieces: []*spmpb.ModelProto_SentencePiece{
				{Piece: proto.String("<unk>"), Type: spmpb.ModelProto_SentencePiece_UNKNOWN.Enum()},
				{Piece: proto.String("a")},
			},
			TrainerSpec:    &spmpb.TrainerSpec{ModelType: spmpb.TrainerSpec_BPE.Enum()},
			NormalizerSpec: &spmpb.NormalizerSpec{},
		}
	}
	for _, c := range []struct {
		name   string
		change func(*spmpb.ModelProto)
		want   string
	}{
		{"unigram", func(m *spmpb.ModelProto) { m.TrainerSpec.ModelType = spmpb.TrainerSpec_UNIGRAM.Enum() }, "only BPE"},
		{"byte fallback", func(m *spmpb.ModelProto) { m.TrainerSpec.ByteFallback = proto.Bool(true) }, "byte fallback"},
		{"no unk", func(m *spmpb.ModelProto) { m.Pieces = m.Pieces[1:] }, "no unknown piece"},
		{"duplicate", func(m *spmpb.ModelProto) {
			m.Pieces = append(m.Pieces, &spmpb.ModelProto_SentencePiece{Piece: proto.String("a")})
		}, "twice"},
		{"bad charsmap", func(m *spmpb.ModelProto) { m.NormalizerSpec.PrecompiledCharsmap = []byte{200, 0, 0, 0, 1} }, "charsmap"},
	} {
		m := base()
		c.change(m)
		raw, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(raw); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	if _, err := Parse([]byte("not a model")); err == nil {
		t.Error("garbage parsed as a model")
	}
}
