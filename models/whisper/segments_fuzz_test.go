package whisper

import (
	"encoding/binary"
	"testing"
)

// FuzzSegments feeds arbitrary token sequences (what a decoder can emit)
// to the timestamp rules and the segment splitter: no panic, segments in
// order inside the window, and the next window after this one's start.
func FuzzSegments(f *testing.F) {
	f.Add([]byte{0, 0, 0x1f, 0x4a, 1, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x2d, 0xc4, 0, 0})
	tr := &transcriber{vocab: testVocab(), codec: wordCodec{}, positions: 1500, maxTarget: 448}
	ex, err := testExtractor()
	if err != nil {
		f.Fatal(err)
	}
	tr.extractor = ex
	f.Fuzz(func(t *testing.T, raw []byte) {
		var tokens []int64
		for len(raw) >= 4 {
			tokens = append(tokens, int64(binary.LittleEndian.Uint32(raw)%51866))
			raw = raw[4:]
		}
		rules := logitRules{sampleBegin: 0, suppress: []int64{50359, 50360}, beginSuppress: []int64{220, 50257}, timestamps: true,
			eot: 50257, noTimestamps: 50364, timestampBegin: 50365, maxInitialTimestamp: 50}
		row := make([]float32, 51866)
		rules.apply(tokens, row)
		seek, size := 1000, 3000
		segs, next := tr.segments(decoded{windowResult: windowResult{tokens: tokens}}, seek, size, false)
		if next < seek || next > seek+size {
			t.Fatalf("next window at %d, after one at %d of %d frames", next, seek, size)
		}
		for _, s := range segs {
			if s.seek != seek {
				t.Fatalf("segment %+v", s)
			}
		}
	})
}
