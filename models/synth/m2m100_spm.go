package synth

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"unicode/utf16"

	"google.golang.org/protobuf/proto"

	"github.com/edgeinfer/edgeinfer/tokenize/spm/spmpb"
)

// m2m100Charsmap is SentencePiece's compiled nmt_nfkc normalization map,
// byte for byte what spm_train stores (see assets/m2m100/gen-charsmap.sh), so
// the real SentencePiece library normalizes with our model as with M2M100's.
//
//go:embed assets/m2m100/nmt_nfkc.charsmap
var m2m100Charsmap []byte

// Special-piece ids, in vocab.json and in the SentencePiece model alike.
const (
	m2m100BOSID = 0
	m2m100PadID = 1
	m2m100EOSID = 2
	m2m100UnkID = 3
)

// modelProto is the SentencePiece BPE model: pieces with scores, the trainer
// options spm_train records, and the nmt_nfkc normalizer with a dummy prefix.
func (v *m2m100Vocab) modelProto() *spmpb.ModelProto {
	specialType := map[string]spmpb.ModelProto_SentencePiece_Type{
		m2m100BOS: spmpb.ModelProto_SentencePiece_CONTROL,
		m2m100Pad: spmpb.ModelProto_SentencePiece_CONTROL,
		m2m100EOS: spmpb.ModelProto_SentencePiece_CONTROL,
		m2m100Unk: spmpb.ModelProto_SentencePiece_UNKNOWN,
	}
	m := &spmpb.ModelProto{}
	rank := 0
	for _, p := range v.pieces {
		sp := &spmpb.ModelProto_SentencePiece{Piece: proto.String(p), Score: proto.Float32(0)}
		if t, ok := specialType[p]; ok {
			sp.Type = t.Enum()
		} else {
			// spm_train scores BPE pieces by rank: 0, -1, -2, ...
			sp.Score = proto.Float32(-float32(rank))
			rank++
		}
		m.Pieces = append(m.Pieces, sp)
	}
	m.TrainerSpec = &spmpb.TrainerSpec{
		Input:                  []string{"edgeinfer-synthetic-corpus.txt"},
		ModelPrefix:            proto.String("sentencepiece.bpe"),
		ModelType:              spmpb.TrainerSpec_BPE.Enum(),
		VocabSize:              proto.Int32(int32(len(v.pieces))),
		CharacterCoverage:      proto.Float32(1),
		MaxSentencepieceLength: proto.Int32(m2m100MaxPieceRunes),
		SplitByUnicodeScript:   proto.Bool(true),
		SplitByNumber:          proto.Bool(true),
		SplitByWhitespace:      proto.Bool(true),
		ByteFallback:           proto.Bool(false),
		UnkId:                  proto.Int32(m2m100UnkID),
		BosId:                  proto.Int32(m2m100BOSID),
		EosId:                  proto.Int32(m2m100EOSID),
		PadId:                  proto.Int32(m2m100PadID),
		UnkPiece:               proto.String(m2m100Unk),
		BosPiece:               proto.String(m2m100BOS),
		EosPiece:               proto.String(m2m100EOS),
		PadPiece:               proto.String(m2m100Pad),
		UnkSurface:             proto.String(" \u2047 "),
	}
	m.NormalizerSpec = &spmpb.NormalizerSpec{
		Name:                   proto.String("nmt_nfkc"),
		PrecompiledCharsmap:    m2m100Charsmap,
		AddDummyPrefix:         proto.Bool(true),
		RemoveExtraWhitespaces: proto.Bool(true),
		EscapeWhitespaces:      proto.Bool(true),
	}
	return m
}

// writeTokenizerModel writes sentencepiece.bpe.model and vocab.json.
func (v *m2m100Vocab) writeTokenizerModel(dir string) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(v.modelProto())
	if err != nil {
		return fmt.Errorf("encode sentencepiece model: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sentencepiece.bpe.model"), b, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "vocab.json"), m2m100VocabJSON(v.dict), 0o644)
}

// m2m100VocabJSON writes token→id in id order the way transformers' M2M100
// save_json does (Python json.dump, indent 2, ASCII-only with \u escapes),
// so the file reads like the real one; any JSON parser gets the same map.
func m2m100VocabJSON(dict []string) []byte {
	var b bytes.Buffer
	b.WriteString("{\n")
	for id, tok := range dict {
		b.WriteString("  ")
		m2m100PythonQuote(&b, tok)
		b.WriteString(": ")
		b.WriteString(strconv.Itoa(id))
		if id < len(dict)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}")
	return b.Bytes()
}

// m2m100PythonQuote quotes s as Python's json module does with
// ensure_ascii: non-ASCII as \uXXXX, astral characters as surrogate pairs.
func m2m100PythonQuote(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(b, `\u%04x\u%04x`, hi, lo)
			} else {
				fmt.Fprintf(b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}
