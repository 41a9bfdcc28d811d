package audioprep

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/audio", name))
	if err != nil {
		t.Fatalf("%v (regenerate with testdata/generate.sh)", err)
	}
	return b
}

// decodeRaw runs a file's decoder and returns what it produced before
// mixing and resampling: rate, channels and interleaved samples.
func decodeRaw(t testing.TB, data []byte) (int, int, []float32) {
	t.Helper()
	f := detect(data)
	if f.decode == nil {
		t.Fatalf("detect found %q, which has no decoder", f.name)
	}
	var raw []float32
	s := &sink{format: f.name, raw: &raw}
	if err := f.decode(data, s); err != nil {
		t.Fatalf("%s: %v", f.name, err)
	}
	return s.rate, s.channels, raw
}

// TestDecodeFixtures checks what Decode reports for every committed file:
// the format found, the stream's rate and channels, and the duration of
// the 16 kHz mono result against what the generator asked sox for.
func TestDecodeFixtures(t *testing.T) {
	for _, c := range []struct {
		file     string
		format   string
		rate, ch int
		seconds  float64
	}{
		{"tone_16k_s16.wav", "WAV", 16000, 1, 0.25},
		{"tone_16k_ulaw.wav", "WAV", 16000, 1, 0.25},
		{"tone1k_8k_s16.wav", "WAV", 8000, 1, 0.5},
		{"noise_22050_s24.wav", "WAV", 22050, 1, 0.5},
		{"tone500_11025_s32.wav", "WAV", 11025, 1, 0.5},
		{"chirp_48k_f32.wav", "WAV", 48000, 1, 0.5},
		{"tone3k_96k_f64.wav", "WAV", 96000, 1, 0.1},
		{"stereo_44100_s16.wav", "WAV", 44100, 2, 0.5},
		{"three_48k_s16.wav", "WAV", 48000, 3, 0.25},
		{"tone_16k_s24_plain.wav", "WAV", 16000, 1, 0.25},
		{"stereo_16k_s16.wav", "WAV", 16000, 2, 0.25},
		{"silence_16k.wav", "WAV", 16000, 1, 0.5},
		{"stereo_44100_s16.flac", "FLAC", 44100, 2, 0.5},
		{"noise_22050_s24.flac", "FLAC", 22050, 1, 0.5},
		// MP3 keeps the encoder delay and padding (up to ~0.08 s here).
		{"chirp_44100_stereo.mp3", "MP3", 44100, 2, 1.07},
		{"chirp_16k_mono_id3.mp3", "MP3", 16000, 1, 1.08},
		{"chirp_48k_mono.opus", "Ogg/Opus", 48000, 1, 1},
		{"chirp_44100_stereo.opus", "Ogg/Opus", 48000, 2, 1},
		{"chirp_16k_mono.opus", "Ogg/Opus", 48000, 1, 1},
		{"chirp_48k_mono.webm", "WebM/Opus", 48000, 1, 1},
		{"chirp_44100_stereo.webm", "WebM/Opus", 48000, 2, 1},
	} {
		t.Run(c.file, func(t *testing.T) {
			a, err := Decode(fixture(t, c.file), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			format := a.Format
			if format == "Ogg" || format == "WebM" {
				format += "/Opus"
			}
			if format != c.format || a.SourceRate != c.rate || a.Channels != c.ch {
				t.Errorf("got %s %d Hz %d ch, want %s %d Hz %d ch", format, a.SourceRate, a.Channels, c.format, c.rate, c.ch)
			}
			if math.Abs(a.Seconds()-c.seconds) > 0.03 {
				t.Errorf("lasts %.4f s, want %.2f", a.Seconds(), c.seconds)
			}
		})
	}
}

// TestWAVSampleFormats decodes one sine that sox wrote in every sample
// format and compares each with its float64 original, within half the
// format's quantization step (sox rounds, undithered). G.711's step grows
// with the level: at this sine's peak (0.5) it is 1/32 for A-law and µ-law.
func TestWAVSampleFormats(t *testing.T) {
	_, _, want := decodeRaw(t, fixture(t, "tone_16k_f64.wav"))
	if len(want) != 4000 {
		t.Fatalf("the float64 original has %d samples, want 4000", len(want))
	}
	for _, c := range []struct {
		file string
		tol  float64
	}{
		{"tone_16k_f32.wav", 3e-8},
		{"tone_16k_s32.wav", 0.5/(1<<31) + 3e-8},
		{"tone_16k_s24.wav", 0.5 / (1 << 23)},
		{"tone_16k_s24_plain.wav", 0.5 / (1 << 23)},
		{"tone_16k_s16.wav", 0.5 / (1 << 15)},
		{"tone_16k_u8.wav", 0.5 / (1 << 7)},
		{"tone_16k_ulaw.wav", 0.5 / 32},
		{"tone_16k_alaw.wav", 0.5/32 + 8.0/(1<<15)}, // A-law encodes 13 of the 16 bits: sox truncates 3
	} {
		t.Run(c.file, func(t *testing.T) {
			rate, ch, got := decodeRaw(t, fixture(t, c.file))
			if rate != 16000 || ch != 1 || len(got) != len(want) {
				t.Fatalf("%d Hz, %d ch, %d samples", rate, ch, len(got))
			}
			d := maxDiff(got, want)
			t.Logf("max |Δ| %.3g (allowed %.3g)", d, c.tol)
			if d > c.tol*1.0001 {
				t.Errorf("max |Δ| from the original %.3g > %.3g", d, c.tol)
			}
		})
	}
	// Channels keep their order: sox -M put the 440 Hz file left, 880 Hz right.
	_, _, left := decodeRaw(t, fixture(t, "tone_16k_s16.wav"))
	_, _, right := decodeRaw(t, fixture(t, "tone880_16k_s16.wav"))
	_, ch, stereo := decodeRaw(t, fixture(t, "stereo_16k_s16.wav"))
	if ch != 2 || len(stereo) != 2*len(left) {
		t.Fatalf("stereo: %d ch, %d samples", ch, len(stereo))
	}
	for i := range left {
		if stereo[2*i] != left[i] || stereo[2*i+1] != right[i] {
			t.Fatalf("frame %d: (%g, %g), want (%g, %g)", i, stereo[2*i], stereo[2*i+1], left[i], right[i])
		}
	}
	// Decode mixes to mono by averaging; at 16 kHz nothing is resampled.
	a, err := Decode(fixture(t, "stereo_16k_s16.wav"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range left {
		if want := (left[i] + right[i]) / 2; a.Samples[i] != want {
			t.Fatalf("mono sample %d is %g, want %g", i, a.Samples[i], want)
		}
	}
}

// TestFLACIsLossless decodes FLAC encodings of two WAV fixtures (flac(1)
// made them) and wants the WAV's samples exactly.
func TestFLACIsLossless(t *testing.T) {
	for _, name := range []string{"stereo_44100_s16", "noise_22050_s24"} {
		r1, c1, wav := decodeRaw(t, fixture(t, name+".wav"))
		r2, c2, flac := decodeRaw(t, fixture(t, name+".flac"))
		if r1 != r2 || c1 != c2 || len(wav) != len(flac) {
			t.Fatalf("%s: WAV %d Hz %d ch %d samples, FLAC %d Hz %d ch %d samples", name, r1, c1, len(wav), r2, c2, len(flac))
		}
		for i := range wav {
			if wav[i] != flac[i] {
				t.Fatalf("%s: sample %d: WAV %g, FLAC %g", name, i, wav[i], flac[i])
			}
		}
	}
}

// TestMP3MatchesLAME compares go-mp3 with LAME's own decoder (lame
// --decode, 16-bit), aligned by the lag of best correlation: two correct
// decoders of one stream agree to about the 16-bit rounding.
func TestMP3MatchesLAME(t *testing.T) {
	rate, ch, got := decodeRaw(t, fixture(t, "chirp_44100_stereo.mp3"))
	rr, rc, ref := decodeRaw(t, fixture(t, "chirp_44100_stereo.mp3.ref.wav"))
	if rate != rr || ch != rc {
		t.Fatalf("go-mp3: %d Hz %d ch; lame: %d Hz %d ch", rate, ch, rr, rc)
	}
	lag, snr := bestLag(got, ref, ch, 3000)
	t.Logf("lag %d frames, SNR %.1f dB (%d vs %d frames)", lag, snr, len(got)/ch, len(ref)/ch)
	if snr < 60 {
		t.Errorf("go-mp3 and lame --decode differ: SNR %.1f dB at the best lag %d", snr, lag)
	}
}

// TestOpusMatchesOpusdec compares Ogg/Opus decoding with opusdec (16-bit,
// dithered): same length, pre-skip and end trimming included; samples
// within a few 16-bit steps. WebM/Opus holds the same packets (mkvmerge
// rewrapped them) and must decode to the same samples, whether its
// Segment and Clusters have sizes or, as MediaRecorder writes them, not.
func TestOpusMatchesOpusdec(t *testing.T) {
	requireOpus(t)
	rate, ch, got := decodeRaw(t, fixture(t, "chirp_48k_mono.opus"))
	_, _, ref := decodeRaw(t, fixture(t, "chirp_48k_mono.opus.ref.wav"))
	if rate != 48000 || ch != 1 || len(got) != len(ref) {
		t.Fatalf("got %d Hz %d ch %d samples; opusdec %d samples", rate, ch, len(got), len(ref))
	}
	if d := maxDiff(got, ref); d > 4.0/(1<<15) {
		t.Errorf("max |Δ| from opusdec %.3g", d)
	}
	for _, name := range []string{"chirp_48k_mono", "chirp_44100_stereo"} {
		_, _, ogg := decodeRaw(t, fixture(t, name+".opus"))
		webm := fixture(t, name+".webm")
		live := liveWebM(t, webm)
		for label, data := range map[string][]byte{"webm": webm, "live webm": live} {
			_, _, w := decodeRaw(t, data)
			if len(w) != len(ogg) || maxDiff(w, ogg) != 0 {
				t.Errorf("%s %s: %d samples, max |Δ| %g from the Ogg file's %d", name, label, len(w), maxDiff(w, ogg), len(ogg))
			}
		}
	}
}

func requireOpus(t *testing.T) {
	t.Helper()
	if err := OpusAvailable(); err != nil {
		t.Fatalf("%v (Debian: apt-get install libopus0; make setup installs it)", err)
	}
}

// liveWebM rewrites a WebM file as MediaRecorder streams it: the Segment
// and every Cluster of unknown size, no Cues.
func liveWebM(t *testing.T, data []byte) []byte {
	t.Helper()
	var out []byte
	unknown := []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	clusters := 0
	for p := 0; p < len(data); {
		id, n := readID(data[p:])
		size, m, _ := readSize(data[p+n:])
		if n == 0 || m == 0 {
			t.Fatalf("bad element at %d", p)
		}
		switch id {
		case idSegment, idCluster:
			out = append(append(out, data[p:p+n]...), unknown...)
			p += n + m
			clusters++
			continue
		case 0x1C53BB6B, 0x114D9B74: // Cues, SeekHead
		default:
			out = append(out, data[p:p+n+m+int(size)]...)
		}
		p += n + m + int(size)
	}
	if clusters < 2 {
		t.Fatalf("found %d Segment/Cluster elements", clusters)
	}
	return out
}

func maxDiff(a, b []float32) float64 {
	var d float64
	for i := range min(len(a), len(b)) {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// bestLag finds the frame lag of b against a (|lag| ≤ maxLag) with the
// least squared difference and returns it with the SNR there.
// Only 0.25 s of a after the lag's start is compared, to keep it quick.
func bestLag(a, b []float32, ch, maxLag int) (int, float64) {
	best, bestErr, bestSig := 0, math.Inf(1), 0.0
	for lag := -maxLag; lag <= maxLag; lag++ {
		var e, s float64
		start := max(0, -lag*ch)
		for i := start; i < min(len(a), start+ch*11025); i++ {
			j := i + lag*ch
			if j < 0 || j >= len(b) {
				continue
			}
			d := float64(a[i] - b[j])
			e += d * d
			s += float64(b[j]) * float64(b[j])
		}
		if s > 0 && e/s < bestErr {
			best, bestErr, bestSig = lag, e/s, s
		}
	}
	_ = bestSig
	return best, -10 * math.Log10(bestErr)
}

// TestBadInput: every failure is an *Error of the right kind naming what it
// found; nothing panics.
func TestBadInput(t *testing.T) {
	flac := fixture(t, "stereo_44100_s16.flac")
	corruptFLAC := bytes.Clone(flac)
	for i := len(flac) / 2; i < len(flac)/2+64; i++ {
		corruptFLAC[i] ^= 0x5A
	}
	opus := fixture(t, "chirp_48k_mono.opus")
	corruptOpus := bytes.Clone(opus)
	corruptOpus[len(opus)/2] ^= 0xFF
	mp3 := fixture(t, "chirp_44100_stereo.mp3")
	noise := bytes.Repeat([]byte{0x13, 0x37, 0xC0, 0xDE, 0x42}, 1000)
	corruptMP3 := append(bytes.Clone(mp3[:4]), noise...)
	for _, c := range []struct {
		name     string
		data     []byte
		lim      Limits
		kind     error
		format   string
		contains string
	}{
		{"nothing", nil, Limits{}, ErrEmpty, "", "empty"},
		{"not audio", []byte("hello, this is text and not audio at all"), Limits{}, ErrUnsupported, "", "not audio"},
		{"png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), Limits{}, ErrUnsupported, "", "not audio"},
		{"zero-length wav", fixture(t, "empty_16k.wav"), Limits{}, ErrEmpty, "WAV", "zero-length"},
		{"vorbis", fixture(t, "chirp_44100_stereo_vorbis.ogg"), Limits{}, ErrUnsupported, "Ogg/Vorbis", "unsupported codec: Ogg/Vorbis"},
		{"mp4", append([]byte("\x00\x00\x00\x20ftypM4A "), noise...), Limits{}, ErrUnsupported, "MP4/M4A (AAC or ALAC)", "unsupported codec: MP4"},
		{"aac", append([]byte{0xFF, 0xF1, 0x50, 0x80}, noise...), Limits{}, ErrUnsupported, "AAC (ADTS)", "AAC"},
		{"truncated wav header", fixture(t, "stereo_44100_s16.wav")[:30], Limits{}, ErrCorrupt, "WAV", "fmt"},
		{"corrupt flac", corruptFLAC, Limits{}, ErrCorrupt, "FLAC", "FLAC"},
		{"truncated flac", flac[:len(flac)/3], Limits{}, ErrCorrupt, "FLAC", "FLAC"},
		{"corrupt opus", corruptOpus, Limits{}, ErrCorrupt, "Ogg", "checksum"},
		{"truncated opus", opus[:len(opus)/2], Limits{}, ErrCorrupt, "Ogg", "truncated"},
		{"corrupt mp3", corruptMP3, Limits{}, ErrCorrupt, "MP3", "MP3"},
		{"too many bytes", mp3, Limits{MaxBytes: 1000}, ErrTooLarge, "", "over the limit"},
		{"too long wav", fixture(t, "stereo_44100_s16.wav"), Limits{MaxSeconds: 0.3}, ErrTooLarge, "WAV", "over the limit of 0.3 s"},
		{"too long mp3", mp3, Limits{MaxSeconds: 0.5}, ErrTooLarge, "MP3", "over the limit"},
		{"too long flac", flac, Limits{MaxSeconds: 0.2}, ErrTooLarge, "FLAC", "over the limit"},
		{"too long opus", opus, Limits{MaxSeconds: 0.5}, ErrTooLarge, "Ogg", "over the limit"},
		{"too many channels", fixture(t, "three_48k_s16.wav"), Limits{MaxChannels: 2}, ErrUnsupported, "WAV", "3 channels"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := Decode(c.data, c.lim)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, %v; want an *Error", a, err)
			}
			if !errors.Is(err, c.kind) || e.Format != c.format || !strings.Contains(e.Message, c.contains) {
				t.Errorf("got %v (kind %v, format %q); want kind %v, format %q, message containing %q", err, e.Kind, e.Format, c.kind, c.format, c.contains)
			}
		})
	}
}
