package hf

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// bpeFixture is the model and pre-tokenizers of a committed tokenizer.json
// (testdata: the synthetic Qwen3 and Gemma tiny presets, written by
// models/synth, which checks they are current).
type bpeFixture struct {
	name  string
	pre   []preTokenizer
	model *bpe
	token []string // id → token
}

func loadBPEFixture(t testing.TB, name string) *bpeFixture {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".tokenizer.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Pre   json.RawMessage `json:"pre_tokenizer"`
		Model json.RawMessage `json:"model"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	stages := []json.RawMessage{file.Pre}
	var seq struct {
		Type          string            `json:"type"`
		Pretokenizers []json.RawMessage `json:"pretokenizers"`
	}
	if json.Unmarshal(file.Pre, &seq) == nil && seq.Type == "Sequence" {
		stages = seq.Pretokenizers
	}
	fx := &bpeFixture{name: name}
	for _, st := range stages {
		var typ struct{ Type string }
		json.Unmarshal(st, &typ)
		var p preTokenizer
		switch typ.Type {
		case "Split":
			p, err = newSplit(st)
		case "ByteLevel":
			p, err = newByteLevel(st)
		default:
			t.Fatalf("%s: pre-tokenizer %s", name, typ.Type)
		}
		if err != nil {
			t.Fatal(err)
		}
		fx.pre = append(fx.pre, p)
	}
	m, err := newBPE(file.Model)
	if err != nil {
		t.Fatal(err)
	}
	fx.model = m.(*bpe)
	fx.token = make([]string, len(fx.model.vocab))
	for tok, id := range fx.model.vocab {
		fx.token[id] = tok
	}
	return fx
}

// pieces runs the pre-tokenizers on s.
func (fx *bpeFixture) pieces(s string) []string {
	ps := []string{s}
	for _, p := range fx.pre {
		var next []string
		for _, x := range ps {
			next = p(next, x)
		}
		ps = next
	}
	return ps
}

// spell is what the ids stand for: byte-fallback pieces as their bytes.
func (fx *bpeFixture) spell(ids []int64) string {
	var b strings.Builder
	for _, id := range ids {
		tok := fx.token[id]
		if len(tok) == 6 && strings.HasPrefix(tok, "<0x") && tok[5] == '>' {
			if v, err := strconv.ParseUint(tok[3:5], 16, 8); err == nil {
				b.WriteByte(byte(v))
				continue
			}
		}
		b.WriteString(tok)
	}
	return b.String()
}

// checkBPE encodes s and checks what must hold for any input: the
// pre-tokenizers tile the text (byte-level: its bytes' spelling), the ids
// spell each piece back, and the scan and the heap agree.
func (fx *bpeFixture) check(t *testing.T, s string) {
	ps := fx.pieces(s)
	var joined strings.Builder
	for _, p := range ps {
		if p == "" {
			t.Fatalf("%s %q: empty pre-token", fx.name, s)
		}
		joined.WriteString(p)
		ids := fx.model.appendIDs(nil, p)
		for _, id := range ids {
			if id < 0 || int(id) >= len(fx.token) {
				t.Fatalf("%s %q: id %d out of range", fx.name, s, id)
			}
		}
		if got := fx.spell(ids); got != p {
			t.Fatalf("%s %q: piece %q encodes to %q", fx.name, s, p, got)
		}
		scan := fx.model.encodeWord(new(bpeScratch), p, 1<<30)
		scan = slices.Clone(scan)
		heap := fx.model.encodeWord(new(bpeScratch), p, 0)
		if !slices.Equal(scan, heap) {
			t.Fatalf("%s %q: scan %v, heap %v", fx.name, p, scan, heap)
		}
	}
	want := s
	if len(fx.pre) == 2 { // Split + ByteLevel
		var b strings.Builder
		byteLevelSpell(&b, s)
		want = b.String()
	}
	if joined.String() != want {
		t.Fatalf("%s %q: pre-tokens %q do not tile it", fx.name, s, ps)
	}
}

var fuzzSeeds = []string{
	"", "Hello world", "I'm here, don't worry!", "  leading and trailing  ", "a\r\n\r\nb",
	"Übersetzer über Straßen", "小型翻译引擎在窗边一台安静的电脑上运行。", "مرحبا بالعالم", "नमस्ते दुनिया",
	"emoji 🙂👍🏽 🇫🇷 1️⃣", "digits ١٢٣ 4.50 €", "tabs\tand\u3000spaces", "\xff\xfe invalid", "x\u0301\u0301\u0301",
	strings.Repeat("long line of text ", 200),
}

func TestBPEFixtures(t *testing.T) {
	for _, name := range []string{"qwen3-tiny", "gemma-tiny"} {
		fx := loadBPEFixture(t, name)
		for _, s := range fuzzSeeds {
			fx.check(t, s)
		}
	}
}

func FuzzHFBPE(f *testing.F) {
	fixtures := []*bpeFixture{loadBPEFixture(f, "qwen3-tiny"), loadBPEFixture(f, "gemma-tiny")}
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, fx := range fixtures {
			fx.check(t, s)
			// Gemma's normalizer writes spaces as "▁".
			fx.check(t, strings.ReplaceAll(s, " ", "▁"))
		}
	})
}
