package audioprep

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeAudio feeds arbitrary bytes through Decode, seeded with every
// committed file (WAV in each sample format, MP3, FLAC, Ogg/Opus,
// WebM/Opus, Ogg/Vorbis) and crafted headers. It must never panic or run
// away; every failure must be an *Error of a known kind naming what it
// found; every success must be non-empty 16 kHz audio within the limits.
// CI runs it briefly:
//
//	go test -run='^$' -fuzz=FuzzDecodeAudio -fuzztime=2000x ./audioprep
func FuzzDecodeAudio(f *testing.F) {
	files, err := filepath.Glob("testdata/audio/*")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed audio in testdata/audio (%v)", err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\xff\xff\xff\xff"))
	f.Add([]byte("fLaC\x00\x00\x00\x22"))
	f.Add([]byte("OggS\x00\x02"))
	f.Add([]byte{0x1A, 0x45, 0xDF, 0xA3, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Add([]byte("ID3\x04\x00\x00\x00\x00\x00\x00\xFF\xFB\x90\x00"))
	// Small enough that each input decodes quickly, large enough for the seeds.
	lim := Limits{MaxBytes: 1 << 20, MaxSeconds: 3, MaxChannels: 8}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Decode(data, lim)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Message == "" ||
				!(errors.Is(err, ErrUnsupported) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrEmpty) ||
					errors.Is(err, ErrTooLarge) || errors.Is(err, ErrNoCodec)) {
				t.Fatalf("error %q (%T) is not an *Error of a known kind", err, err)
			}
			return
		}
		if len(a.Samples) == 0 || a.Seconds() > lim.MaxSeconds+0.01 || a.Format == "" ||
			a.Channels < 1 || a.Channels > lim.MaxChannels || a.SourceRate < minRate {
			t.Fatalf("decoded %s: %d Hz, %d ch, %d samples", a.Format, a.SourceRate, a.Channels, len(a.Samples))
		}
	})
}
