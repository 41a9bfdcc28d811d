package main

import (
	"encoding/binary"
	"os"
	"os/exec"

	"github.com/edgeinfer/edgeinfer/benchmarks/corpus"
)

// testAudio returns 16-bit 16 kHz mono WAV bytes of the given length:
// espeak-ng's speech of a fixed passage, repeated to length, where
// espeak-ng is installed, else a speech-like signal (speechLike). It says
// which it made.
func testAudio(seconds int) (wav []byte, kind string) {
	if samples, ok := espeakSpeech(seconds); ok {
		return corpus.WAV(samples), "espeak-ng speech"
	}
	return corpus.WAV(corpus.SpeechLike(float64(seconds), 22)), "synthetic speech-like signal (espeak-ng not installed)"
}

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
	if rate != corpus.SampleRate { // espeak-ng speaks at 22,050 Hz: linear resampling is enough for a load test
		pcm = resampleLinear(pcm, rate, corpus.SampleRate)
	}
	out := make([]float32, 0, seconds*corpus.SampleRate)
	for len(out) < seconds*corpus.SampleRate {
		out = append(out, pcm[:min(len(pcm), seconds*corpus.SampleRate-len(out))]...)
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
