package audioprep

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// BenchmarkDecodeAndFeatures measures one minute of audio from bytes to
// Whisper features (two 30-s windows of 80 bins): 44.1 kHz stereo 16-bit
// WAV, and 44.1 kHz stereo MP3 (a committed one-second file's frames
// repeated). Report b.N's ns/op as time per audio minute.
func BenchmarkDecodeAndFeatures(b *testing.B) {
	ext, err := ParseWhisperConfig([]byte(`{}`))
	if err != nil {
		b.Fatal(err)
	}
	const rate, seconds = 44100, 60
	var wav bytes.Buffer
	n := rate * seconds
	wav.WriteString("RIFF")
	binary.Write(&wav, binary.LittleEndian, uint32(36+4*n))
	wav.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(2), uint32(rate), uint32(4 * rate), uint16(4), uint16(16)} {
		binary.Write(&wav, binary.LittleEndian, v)
	}
	wav.WriteString("data")
	binary.Write(&wav, binary.LittleEndian, uint32(4*n))
	for i := range n {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate))
		binary.Write(&wav, binary.LittleEndian, [2]int16{v, -v})
	}
	one := skipID3(fixture(b, "chirp_44100_stereo.mp3"))
	mp3 := bytes.Repeat(one, 56) // 56 × 1.07 s
	out := make([]float32, ext.Bins()*ext.Frames())
	for _, c := range []struct {
		name string
		data []byte
	}{{"wav", wav.Bytes()}, {"mp3", mp3}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				a, err := Decode(c.data, Limits{})
				if err != nil {
					b.Fatal(err)
				}
				if math.Abs(a.Seconds()-60) > 0.5 {
					b.Fatalf("%.2f s", a.Seconds())
				}
				for w := 0; w < len(a.Samples); w += ext.Samples() {
					if err := ext.Extract(a.Samples[w:], out); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkFeatures is one 30-s window's features alone.
func BenchmarkFeatures(b *testing.B) {
	ext, _ := ParseWhisperConfig([]byte(`{}`))
	in := make([]float32, ext.Samples())
	for i := range in {
		in[i] = float32(0.3 * math.Sin(float64(i)*0.1))
	}
	out := make([]float32, ext.Bins()*ext.Frames())
	for b.Loop() {
		ext.Extract(in, out)
	}
}
