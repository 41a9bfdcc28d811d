package corpus

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
)

// SampleRate is the rate of the audio this package makes: Whisper's.
const SampleRate = 16000

// SpeechLike is a voiced, syllable-paced signal: a harmonic series whose
// pitch glides between 100 and 220 Hz, shaped by two moving formants,
// switched on and off at syllable rate with pauses between phrases, over
// faint noise. It exercises an audio front end and a model as speech would;
// it says nothing about recognition. The same seed gives the same samples;
// the seed also shifts the pitch and formant phases.
func SpeechLike(seconds float64, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 6))
	shift := rng.Float64() * 2 * math.Pi
	out := make([]float32, int(seconds*SampleRate))
	phase := 0.0
	for i := range out {
		t := float64(i) / SampleRate
		pitch := 160 + 60*math.Sin(2*math.Pi*0.3*t+shift)
		phase += 2 * math.Pi * pitch / SampleRate
		f1 := 500 + 300*math.Sin(2*math.Pi*1.7*t+shift)
		f2 := 1500 + 700*math.Sin(2*math.Pi*1.1*t+1)
		var v float64
		for h := 1.0; h*pitch < 4000; h++ {
			f := h * pitch
			gain := math.Exp(-math.Pow((f-f1)/150, 2)) + 0.6*math.Exp(-math.Pow((f-f2)/200, 2)) + 0.02
			v += gain * math.Sin(h*phase)
		}
		syllable := math.Max(0, math.Sin(2*math.Pi*4*t)) // ~4 syllables per second
		phrase := 1.0
		if math.Mod(t, 6) > 5 { // a one-second pause every six
			phrase = 0
		}
		out[i] = float32(0.1*v*syllable*phrase + 0.003*rng.NormFloat64())
	}
	return out
}

// WAV encodes samples at SampleRate as 16-bit PCM mono WAV bytes.
func WAV(samples []float32) []byte {
	var b bytes.Buffer
	put := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	put(uint32(36 + 2*len(samples)))
	b.WriteString("WAVEfmt ")
	put([]uint32{16})
	put([]uint16{1, 1})
	put([]uint32{SampleRate, 2 * SampleRate})
	put([]uint16{2, 16})
	b.WriteString("data")
	put(uint32(2 * len(samples)))
	for _, s := range samples {
		put(int16(max(-1, min(1, s)) * 32767))
	}
	return b.Bytes()
}
