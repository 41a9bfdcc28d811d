package m2m100

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzTokenizer encodes arbitrary text in every language slot and decodes
// arbitrary id sequences, as a model that generates nonsense produces:
// no panic, [__lang__] … </s> framing, every id inside the vocabulary.
func FuzzTokenizer(f *testing.F) {
	var cfg modelConfig
	raw, err := os.ReadFile(filepath.Join(tinyDir, "config.json"))
	if err == nil {
		err = json.Unmarshal(raw, &cfg)
	}
	if err != nil {
		f.Fatal(err)
	}
	tok, err := loadTokenizer(tinyDir, cfg.VocabSize)
	if err != nil {
		f.Fatal(err)
	}
	for _, k := range encodeKnownAnswers {
		f.Add(k.text, uint8(3), []byte{0, 1, 2, 3, 0xff, 0xff, 0xff, 0x7f})
	}
	f.Add("", uint8(0), []byte{})
	f.Add("</s> <pad> __en__ <unk>", uint8(99), []byte{0x80, 0, 0, 0})
	f.Fuzz(func(t *testing.T, text string, lang uint8, gen []byte) {
		l := int(lang) % len(languages)
		ids := tok.encode(text, l)
		if len(ids) < 2 || ids[0] != tok.langID(l) || ids[len(ids)-1] != tok.eos {
			t.Fatalf("encode(%q) = %v: not framed by the language token and </s>", text, ids)
		}
		for _, id := range ids {
			if id < 0 || id >= int64(cfg.VocabSize) {
				t.Fatalf("encode(%q): id %d outside the vocabulary of %d", text, id, cfg.VocabSize)
			}
		}
		// Any int32s, in and out of range, stand for generated ids.
		var out []int64
		for len(gen) >= 4 {
			out = append(out, int64(int32(binary.LittleEndian.Uint32(gen))))
			gen = gen[4:]
		}
		_ = tok.decode(out)
		_ = tok.decode(ids)
	})
}
