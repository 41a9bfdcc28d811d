package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
)

// testAudio returns 16-bit 16 kHz mono WAV bytes of the given length:
// espeak-ng's speech of a fixed passage, repeated to length, where
// espeak-ng is installed, else a speech-like signal (speechLike). It says
// which it made.
func testAudio(seconds int) (wav []byte, kind string) {
	if samples, ok := espeakSpeech(seconds); ok {
		return encodeWAV(samples), "espeak-ng speech"
	}
	return encodeWAV(speechLike(seconds)), "synthetic speech-like signal (espeak-ng not installed)"
}

const sampleRate = 16000

// passage is what espeak-ng reads.
const passage = "The quick brown fox jumps over the lazy dog. Benchmarks run the same audio through every " +
	"engine, with the same model weights and the same number of threads, and report how fast each one " +
	"transcribes it. Speech recognition turns sound into text, one thirty second window at a time."

func espeakSpeech(seconds int) ([]float32, bool) {
	bin, err := exec.LookPath("espeak-ng")
	if err != nil {
		return nil, false
	}
	f, err := os.CreateTemp("", "speech-*.wav")
	if err != nil {
		return nil, false
	}
	f.Close()
	defer os.Remove(f.Name())
	if err := exec.Command(bin, "-w", f.Name(), passage).Run(); err != nil {
		return nil, false
	}
	raw, err := os.ReadFile(f.Name())
	if err != nil || len(raw) < 44 {
		return nil, false
	}
	rate := int(binary.LittleEndian.Uint32(raw[24:28]))
	var pcm []float32
	for i := 44; i+1 < len(raw); i += 2 {
		pcm = append(pcm, float32(int16(binary.LittleEndian.Uint16(raw[i:])))/32768)
	}
	if rate != sampleRate { // espeak-ng speaks at 22,050 Hz: linear resampling is enough for a load test
		pcm = resampleLinear(pcm, rate, sampleRate)
	}
	out := make([]float32, 0, seconds*sampleRate)
	for len(out) < seconds*sampleRate {
		out = append(out, pcm[:min(len(pcm), seconds*sampleRate-len(out))]...)
	}
	return out, true
}

func resampleLinear(in []float32, from, to int) []float32 {
	n := len(in) * to / from
	out := make([]float32, n)
	for i := range out {
		pos := float64(i) * float64(from) / float64(to)
		j := int(pos)
		frac := float32(pos - float64(j))
		next := in[min(j+1, len(in)-1)]
		out[i] = in[j]*(1-frac) + next*frac
	}
	return out
}

// speechLike is a voiced, syllable-paced signal: a harmonic series whose
// pitch glides between 100 and 220 Hz, shaped by two moving formants,
// switched on and off at syllable rate with pauses between phrases, over
// faint noise. It exercises the front end and the model as speech would;
// it says nothing about recognition.
func speechLike(seconds int) []float32 {
	rng := rand.New(rand.NewPCG(22, 6))
	out := make([]float32, seconds*sampleRate)
	phase := 0.0
	for i := range out {
		t := float64(i) / sampleRate
		pitch := 160 + 60*math.Sin(2*math.Pi*0.3*t)
		phase += 2 * math.Pi * pitch / sampleRate
		f1 := 500 + 300*math.Sin(2*math.Pi*1.7*t)
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

// encodeWAV writes 16-bit PCM WAV bytes.
func encodeWAV(samples []float32) []byte {
	var b bytes.Buffer
	put := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	put(uint32(36 + 2*len(samples)))
	b.WriteString("WAVEfmt ")
	put([]uint32{16})
	put([]uint16{1, 1})
	put([]uint32{sampleRate, 2 * sampleRate})
	put([]uint16{2, 16})
	b.WriteString("data")
	put(uint32(2 * len(samples)))
	for _, s := range samples {
		put(int16(max(-1, min(1, s)) * 32767))
	}
	return b.Bytes()
}
