// Package audioprep turns uploaded audio into what speech models read:
// it detects the container from the bytes (RIFF/WAVE, MP3, FLAC, Ogg,
// WebM/Matroska), decodes it to float32 PCM, mixes the channels down to
// mono, resamples to 16 kHz with a windowed-sinc filter, and computes
// Whisper's log-mel features exactly as Hugging Face's
// WhisperFeatureExtractor does.
//
// Decoders: WAV is read here; MP3 by github.com/hajimehoshi/go-mp3 and FLAC
// by github.com/mewkiz/flac (pure Go); Ogg and WebM are demuxed here and
// their Opus packets decoded by libopus, loaded at run time (see opus.go).
//
// Decode refuses what it cannot or should not decode with an *Error whose
// Kind says why: the engine maps ErrTooLarge to 413 and the rest to 400.
// It never panics and never runs past its limits, whatever the bytes.
package audioprep

import (
	"errors"
	"fmt"
)

// SampleRate is the rate Decode resamples to: what Whisper and Silero VAD read.
const SampleRate = 16000

// Defaults for Limits' zero values.
const (
	DefaultMaxBytes    = 100 << 20 // the request body is refused before this in practice
	DefaultMaxSeconds  = 4 * 60 * 60
	DefaultMaxChannels = 32
	maxRate            = 768000
	minRate            = 1000
)

// Limits bound what Decode accepts. Durations are checked as decoding goes
// (and from the header first, where it declares one), so a small file that
// claims or unfolds into hours of audio is refused before it is held.
type Limits struct {
	MaxBytes    int64   // 0 means DefaultMaxBytes
	MaxSeconds  float64 // 0 means DefaultMaxSeconds
	MaxChannels int     // 0 means DefaultMaxChannels
}

func (l Limits) maxBytes() int64 {
	if l.MaxBytes > 0 {
		return l.MaxBytes
	}
	return DefaultMaxBytes
}

func (l Limits) maxSeconds() float64 {
	if l.MaxSeconds > 0 {
		return l.MaxSeconds
	}
	return DefaultMaxSeconds
}

func (l Limits) maxChannels() int {
	if l.MaxChannels > 0 {
		return l.MaxChannels
	}
	return DefaultMaxChannels
}

// The kinds of decode failure; every *Error wraps one, for errors.Is.
var (
	ErrUnsupported = errors.New("unsupported audio")
	ErrCorrupt     = errors.New("corrupt audio")
	ErrEmpty       = errors.New("empty audio")
	ErrTooLarge    = errors.New("audio too large")
	// ErrNoCodec: the format is supported but its codec library is not
	// installed on this server (libopus); a server fault, not the caller's.
	ErrNoCodec = errors.New("audio codec unavailable")
)

// Error is a decode failure. Its message describes the input, never the
// server, so it can be shown to whoever sent the audio (ErrNoCodec's says
// what the server lacks).
type Error struct {
	// Kind is ErrUnsupported, ErrCorrupt, ErrEmpty, ErrTooLarge or ErrNoCodec.
	Kind error
	// Format is what the bytes were found to be ("WAV", "Ogg/Vorbis"), or
	// "" when they are not recognised audio.
	Format  string
	Message string
}

func (e *Error) Error() string { return e.Message }

func (e *Error) Unwrap() error { return e.Kind }

func fail(kind error, format, msg string, args ...any) *Error {
	return &Error{Kind: kind, Format: format, Message: fmt.Sprintf(msg, args...)}
}

// Audio is decoded audio, mixed to mono and resampled to SampleRate.
type Audio struct {
	// Format is the container and codec found ("WAV", "MP3", "FLAC",
	// "Ogg/Opus", "WebM/Opus").
	Format string
	// SourceRate and Channels describe the stream as it was encoded.
	SourceRate, Channels int
	// Samples are mono at SampleRate, nominally in [-1, 1].
	Samples []float32
}

// Seconds is the duration of the decoded audio.
func (a *Audio) Seconds() float64 { return float64(len(a.Samples)) / SampleRate }

// Decode detects the format of data, decodes it, averages its channels to
// mono and resamples to SampleRate (16 kHz).
func Decode(data []byte, lim Limits) (a *Audio, err error) {
	if len(data) == 0 {
		return nil, fail(ErrEmpty, "", "is empty (0 bytes)")
	}
	if int64(len(data)) > lim.maxBytes() {
		return nil, fail(ErrTooLarge, "", "is %d bytes, over the limit of %d", len(data), lim.maxBytes())
	}
	f := detect(data)
	if f.decode == nil {
		if f.name == "" {
			return nil, fail(ErrUnsupported, "", "is not audio in a supported format (%s)", supported)
		}
		return nil, fail(ErrUnsupported, f.name, "unsupported codec: %s (supported: %s)", f.name, supported)
	}
	s := &sink{format: f.name, lim: lim}
	defer func() {
		// The decoders from outside this package see untrusted bytes: a panic
		// in one is a corrupt stream, not a crash.
		if v := recover(); v != nil {
			a, err = nil, fail(ErrCorrupt, f.name, "could not be decoded as %s (corrupt stream): %v", f.name, v)
		}
	}()
	if err := f.decode(data, s); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, fail(ErrCorrupt, f.name, "could not be decoded as %s (truncated or corrupt): %v", f.name, err)
	}
	return s.finish()
}

// sink receives interleaved PCM from a decoder, checks the limits, mixes to
// mono and resamples as it goes, so only the 16 kHz mono result is held.
type sink struct {
	format   string
	lim      Limits
	rate     int
	channels int
	// srcChannels is the stream's channel count as Audio reports it.
	srcChannels int
	frames      int64
	max         int64
	rs          *Resampler
	mono        []float32
	out         []float32
	// raw, when set (by tests), collects the decoder's interleaved output.
	raw *[]float32
}

// start fixes the stream's rate and channel count; declaredFrames, when the
// header gives one (> 0), is checked against the limit before any sample
// is decoded.
func (s *sink) start(rate, channels int, declaredFrames int64) error {
	if rate < minRate || rate > maxRate {
		return fail(ErrCorrupt, s.format, "declares a sample rate of %d Hz (supported: %d to %d)", rate, minRate, maxRate)
	}
	if channels < 1 {
		return fail(ErrCorrupt, s.format, "declares %d channels", channels)
	}
	if channels > s.lim.maxChannels() {
		return fail(ErrUnsupported, s.format, "has %d channels, over the limit of %d", channels, s.lim.maxChannels())
	}
	s.rate, s.channels, s.srcChannels = rate, channels, channels
	s.max = int64(s.lim.maxSeconds() * float64(rate))
	if declaredFrames > s.max {
		return s.tooLong(declaredFrames)
	}
	s.rs = NewResampler(rate, SampleRate)
	return nil
}

func (s *sink) tooLong(frames int64) error {
	return fail(ErrTooLarge, s.format, "lasts %.4g s or more, over the limit of %.4g s",
		float64(frames)/float64(s.rate), s.lim.maxSeconds())
}

// write takes interleaved frames (len(pcm) a multiple of channels).
func (s *sink) write(pcm []float32) error {
	n := len(pcm) / s.channels
	if s.frames+int64(n) > s.max {
		return s.tooLong(s.frames + int64(n))
	}
	s.frames += int64(n)
	if s.raw != nil {
		*s.raw = append(*s.raw, pcm[:n*s.channels]...)
	}
	mono := pcm[:n]
	if s.channels > 1 {
		s.mono = grow(s.mono, n)
		mono = s.mono
		inv := 1 / float32(s.channels)
		for i := range n {
			var sum float32
			for _, v := range pcm[i*s.channels : (i+1)*s.channels] {
				sum += v
			}
			mono[i] = sum * inv
		}
	}
	s.out = s.rs.Process(s.out, mono)
	return nil
}

func (s *sink) finish() (*Audio, error) {
	if s.rs == nil || s.frames == 0 {
		return nil, fail(ErrEmpty, s.format, "holds no samples (zero-length %s audio)", s.format)
	}
	s.out = s.rs.Flush(s.out)
	return &Audio{Format: s.format, SourceRate: s.rate, Channels: s.srcChannels, Samples: s.out}, nil
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}
