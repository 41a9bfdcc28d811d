package whisper

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgeinfer/edgeinfer/tokenize/hf"
)

// textCodec turns text into Whisper's text tokens and back. Until
// tokens.go (byte-level BPE decoding in tokenize/hf) is on main, bpeCodec
// below stands in.
type textCodec interface {
	// encode returns text's tokens, no special tokens.
	encode(text string) ([]int64, error)
	// decode returns the text of ids, skipping special and timestamp
	// tokens.
	decode(ids []int64) string
}

// bpeCodec encodes with tokenize/hf and decodes through vocab.json and
// GPT-2's byte-to-character table.
type bpeCodec struct {
	tok   *hf.Tokenizer
	eot   int64
	bytes map[int64][]byte
}

func loadCodec(dir string, eot int64) (*bpeCodec, error) {
	tok, err := hf.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "vocab.json"))
	if err != nil {
		return nil, err
	}
	var vocab map[string]int64
	if err := json.Unmarshal(raw, &vocab); err != nil {
		return nil, fmt.Errorf("vocab.json: %w", err)
	}
	unbyte := map[rune]byte{}
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			unbyte[rune(b)] = byte(b)
		} else {
			unbyte[rune(256+n)] = byte(b)
			n++
		}
	}
	c := &bpeCodec{tok: tok, eot: eot, bytes: map[int64][]byte{}}
	for piece, id := range vocab {
		var b []byte
		for _, r := range piece {
			b = append(b, unbyte[r])
		}
		c.bytes[id] = b
	}
	return c, nil
}

func (c *bpeCodec) encode(text string) ([]int64, error) {
	ids, _, _, err := c.tok.Encode(text, 0)
	if err != nil {
		return nil, err
	}
	out := ids[:0]
	for _, id := range ids {
		if id < c.eot {
			out = append(out, id)
		}
	}
	return out, nil
}

func (c *bpeCodec) decode(ids []int64) string {
	var b strings.Builder
	for _, id := range ids {
		if id < c.eot {
			b.Write(c.bytes[id])
		}
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}
