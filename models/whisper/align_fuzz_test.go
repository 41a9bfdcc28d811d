package whisper

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// FuzzAlignWords cuts arbitrary bytes into token pieces and aligns them
// over noise attention: no panic, every word's text comes from the pieces
// in order, and the times stay inside the window.
func FuzzAlignWords(f *testing.F) {
	f.Add([]byte(" Hello, world! “Quote” don't"), []byte{6, 1, 6, 1, 4, 5, 1, 4, 2}, false, uint16(3000))
	f.Add([]byte("你好，世界。こんにちは"), []byte{2, 3, 1, 5, 3, 7, 4}, true, uint16(777))
	f.Add([]byte("\xff\xe4\xbd a\xf0\x9f"), []byte{1, 2, 2, 1}, false, uint16(9))
	f.Fuzz(func(t *testing.T, text, cuts []byte, chars bool, melFrames uint16) {
		var ps [][]byte
		for _, c := range cuts {
			n := int(c%8) + 1
			if len(text) < n || len(ps) >= 64 {
				break
			}
			ps, text = append(ps, text[:n]), text[n:]
		}
		frames := int(melFrames%3001) + 2 // at least one position
		rng := rand.New(rand.NewPCG(uint64(len(ps)), uint64(frames)))
		rows := 3 + len(ps) + 2
		attention := make([][][]float32, 2)
		for h := range attention {
			attention[h] = randomMatrix(rng, rows, frames/2, 0)
		}
		segments := []alignSegment{{Tokens: len(ps) / 2, Start: 1, End: 1}, {Tokens: len(ps) - len(ps)/2, Start: 1, End: 1}}
		in := &alignInput{Attention: attention, TextRow: 3, MelFrames: frames, Pieces: ps, SplitOnCharacters: chars, TimeOffset: 1, Segments: segments}
		out, _, err := alignWords(in)
		if err != nil {
			t.Fatal(err)
		}
		var all []byte
		for _, p := range ps {
			all = append(all, p...)
		}
		decoded := string(decodeReplacing(all))
		var words strings.Builder
		limit := 1 + float64(frames/2)*secondsPerPosition
		for _, s := range out {
			for _, w := range s.Words {
				words.WriteString(w.Word)
				if math.IsNaN(w.Start) || math.IsNaN(w.End) || w.Start < 0 || w.End > limit+1e-9 {
					t.Fatalf("word %q at %v–%v outside 0–%v", w.Word, w.Start, w.End, limit)
				}
			}
		}
		if !strings.HasPrefix(decoded, words.String()) {
			t.Fatalf("words %q are not the text %q", words.String(), decoded)
		}
	})
}
