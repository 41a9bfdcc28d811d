package hf

import (
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// The examples of Unicode's "U+FFFD substitution of maximal subparts"
// (The Unicode Standard, §3.9, tables 3-8 to 3-11), which Rust's
// from_utf8_lossy and the WHATWG TextDecoder follow.
func TestLossyUTF8(t *testing.T) {
	const r = "\uFFFD"
	for _, c := range []struct{ in, want string }{
		{"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "a" + r + r + r + "b" + r + "c" + r + r + "d"},
		{"\xC0\xAF\xE0\x80\xBF\xF0\x81\x82\x41", r + r + r + r + r + r + r + r + "A"},
		{"\xED\xA0\x80\xED\xBF\xBF\xED\xAF\x41", r + r + r + r + r + r + r + r + "A"},
		{"\xF4\x91\x92\x93\xFF\x41\x80\xBF\x42", r + r + r + r + r + "A" + r + r + "B"},
		{"\xE1\x80\xE2\xF0\x91\x92\xF1\xBF\x41", r + r + r + r + "A"},
		{"ok é 東", "ok é 東"},
		{"cut \xE6\x9D", "cut " + r},
		{"\xF0\x9F\x99", r},
	} {
		if got := LossyUTF8([]byte(c.in)); got != c.want {
			t.Errorf("LossyUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// loadFixtureTokenizer parses a committed tokenizer.json (gzipped or not).
func loadFixtureTokenizer(tb testing.TB, name string) *Tokenizer {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if filepath.Ext(name) == ".gz" {
		zr, err := gzip.NewReader(f)
		if err != nil {
			tb.Fatal(err)
		}
		r = zr
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := Parse(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

var decodeFixtures = []string{"qwen3-tiny.tokenizer.json.gz", "gemma-tiny.tokenizer.json.gz", "xlmr-tiny.tokenizer.json"}

// checkDecode decodes the ids of s and arbitrary ids: valid UTF-8 always,
// and for byte-level BPE (Qwen3) the normalized text back exactly.
func checkDecode(t *testing.T, name string, tok *Tokenizer, s string, arbitrary []int64) {
	for _, skip := range []bool{false, true} {
		if out := tok.Decode(arbitrary, skip); !utf8.ValidString(out) {
			t.Fatalf("%s: Decode(%v) = %q is not UTF-8", name, arbitrary, out)
		}
	}
	out := tok.Decode(tok.EncodeOrdinary(s), false)
	if !utf8.ValidString(out) {
		t.Fatalf("%s: Decode of %q is not UTF-8: %q", name, s, out)
	}
	if name == decodeFixtures[0] && out != tok.Normalize(s) {
		t.Fatalf("%s: Decode(EncodeOrdinary(%q)) = %q, want %q", name, s, out, tok.Normalize(s))
	}
	checkDecodeBytes(t, name, tok, s, arbitrary)
}

// checkDecodeBytes: DecodeBytes read as UTF-8 is Decode, and for
// byte-level BPE (Qwen3) the bytes of each id of a text, joined, are the
// (normalized) text's bytes, characters split across ids included.
func checkDecodeBytes(t *testing.T, name string, tok *Tokenizer, s string, arbitrary []int64) {
	if got, want := LossyUTF8(tok.DecodeBytes(arbitrary, true)), tok.Decode(arbitrary, true); got != want {
		t.Fatalf("%s: DecodeBytes(%v) reads %q, Decode gives %q", name, arbitrary, got, want)
	}
	if name != decodeFixtures[0] {
		return
	}
	if !tok.byteLevel {
		t.Fatalf("%s: the ByteLevel decoder was not recognized", name)
	}
	var joined []byte
	for _, id := range tok.EncodeOrdinary(s) {
		joined = append(joined, tok.DecodeBytes([]int64{id}, false)...)
	}
	if want := tok.Normalize(s); utf8.ValidString(s) && string(joined) != want {
		t.Fatalf("%s: the ids' bytes of %q join to %q, want %q", name, s, joined, want)
	}
}

func TestDecodeFixtures(t *testing.T) {
	for _, name := range decodeFixtures {
		tok := loadFixtureTokenizer(t, name)
		for i, s := range fuzzSeeds {
			checkDecode(t, name, tok, s, []int64{int64(i), -1, 1 << 40, int64(i * 997)})
		}
	}
	// Without a decoder section the tokens are joined with spaces.
	tok, err := Parse([]byte(`{"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["a",-1],["b",-2]]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Decode([]int64{1, 2, 9, 1}, false); got != "a b a" {
		t.Errorf("no decoder: %q", got)
	}
}

// FuzzHFDecode decodes arbitrary ids with the committed tokenizers, and the
// ids of arbitrary text: no panic, valid UTF-8, and byte-level BPE gives the
// (normalized) text back.
func FuzzHFDecode(f *testing.F) {
	toks := make([]*Tokenizer, len(decodeFixtures))
	for i, name := range decodeFixtures {
		toks[i] = loadFixtureTokenizer(f, name)
	}
	for i, s := range fuzzSeeds {
		f.Add(s, []byte{byte(i), 0x10, 0xff, 3, 0, 0, 0, 0x80})
	}
	f.Fuzz(func(t *testing.T, s string, raw []byte) {
		var ids []int64
		for len(raw) >= 2 {
			ids = append(ids, int64(int16(binary.LittleEndian.Uint16(raw))))
			raw = raw[2:]
		}
		for i, tok := range toks {
			checkDecode(t, decodeFixtures[i], tok, s, ids)
		}
	})
}
