package spm

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeinfer/edgeinfer/models/synth"
)

// syntheticModel returns the bytes of the synthetic M2M100's
// sentencepiece.bpe.model.
func syntheticModel(f *testing.F) []byte {
	f.Helper()
	dir := f.TempDir()
	if err := synth.Generate(context.Background(), synth.Options{Preset: synth.Tiny, OutDir: dir}, []string{synth.M2M100ModelID}, io.Discard); err != nil {
		f.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(synth.M2M100ModelID), "sentencepiece.bpe.model"))
	if err != nil {
		f.Fatal(err)
	}
	return raw
}

// FuzzEncode segments arbitrary text with the synthetic model: no panic,
// every id a piece of the model, and decoding the pieces gives back the
// normalized text's words.
func FuzzEncode(f *testing.F) {
	p, err := Parse(syntheticModel(f))
	if err != nil {
		f.Fatal(err)
	}
	for _, k := range knownAnswers {
		f.Add(k.text)
	}
	for _, s := range []string{"", " ", "\x00\xff", "▁▁▁", "<unk></s><s>", "ﬁ① ＡＢＣ", strings.Repeat("ab", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		pieces := p.EncodePieces(text)
		ids := p.Encode(text)
		if len(ids) != len(pieces) {
			t.Fatalf("%q: %d ids for %d pieces", text, len(ids), len(pieces))
		}
		for _, id := range ids {
			if id < 0 || id >= p.Len() {
				t.Fatalf("%q: id %d outside the model's %d pieces", text, id, p.Len())
			}
		}
		if got := strings.Join(pieces, ""); got != p.Normalize(text) {
			t.Fatalf("%q: pieces %q do not spell the normalized text %q", text, got, p.Normalize(text))
		}
		_ = p.Decode(pieces)
	})
}

// FuzzParse feeds arbitrary bytes to the model parser, seeded with the real
// model and pieces of it: it must refuse or accept without panicking, and
// whatever it accepts must encode.
func FuzzParse(f *testing.F) {
	raw := syntheticModel(f)
	f.Add(raw)
	f.Add(raw[:len(raw)/2])
	f.Add(raw[:64])
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		_ = p.Decode(p.EncodePieces("Hello world, ünïcödé 東京"))
	})
}
