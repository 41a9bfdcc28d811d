package audioprep

import (
	"encoding/json"
	"fmt"
	"math"
)

// WhisperExtractor computes Whisper's log-mel input features exactly as
// Hugging Face's WhisperFeatureExtractor does (transformers.js 4.3.2 is
// the checked reference): the 16 kHz audio is cut or zero-padded to
// n_samples (30 s), reflect-padded by n_fft/2 on each side, framed every
// hop_length samples under a periodic Hann window, transformed (|FFT|²),
// projected on Slaney-normalized mel filters (0–8 kHz, Slaney scale),
// floored at 1e-10, log10'd, clamped to max−8 and mapped by (x+4)/4;
// nb_max_frames (3000) frames. It is read-only once built: one extractor
// serves concurrent callers.
type WhisperExtractor struct {
	bins, nfft, hop, samples, frames int
	window                           []float64
	filters                          [][]float64 // [bins][nfft/2+1]
	first, last                      []int       // each filter's non-zero span
	fft                              *fftPlan
}

// whisperConfig is what preprocessor_config.json says about the features.
type whisperConfig struct {
	FeatureSize  int         `json:"feature_size"`
	SamplingRate int         `json:"sampling_rate"`
	HopLength    int         `json:"hop_length"`
	NFFT         int         `json:"n_fft"`
	NSamples     int         `json:"n_samples"`
	NbMaxFrames  int         `json:"nb_max_frames"`
	ChunkLength  int         `json:"chunk_length"`
	MelFilters   [][]float64 `json:"mel_filters"`
}

// ParseWhisperConfig reads a Whisper preprocessor_config.json: 80 mel bins
// for tiny.en and most sizes, 128 for large-v3 and turbo. Fields it omits
// take WhisperFeatureExtractor's defaults. Older exports carry the filters
// themselves (mel_filters, [feature_size][n_fft/2+1]); they are used as
// given, as transformers.js does, else the filters are computed.
func ParseWhisperConfig(data []byte) (*WhisperExtractor, error) {
	c := whisperConfig{FeatureSize: 80, SamplingRate: SampleRate, HopLength: 160, NFFT: 400, ChunkLength: 30}
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("preprocessor_config.json: %w", err)
	}
	if c.NSamples == 0 {
		c.NSamples = c.ChunkLength * c.SamplingRate
	}
	if c.NbMaxFrames == 0 && c.HopLength > 0 {
		c.NbMaxFrames = c.NSamples / c.HopLength
	}
	switch {
	case c.SamplingRate != SampleRate:
		return nil, fmt.Errorf("preprocessor_config.json: sampling_rate %d, want %d", c.SamplingRate, SampleRate)
	case c.FeatureSize < 1 || c.FeatureSize > 512:
		return nil, fmt.Errorf("preprocessor_config.json: feature_size %d out of range", c.FeatureSize)
	case c.NFFT < 2 || c.NFFT > 1<<16 || c.HopLength < 1 || c.HopLength > c.NFFT:
		return nil, fmt.Errorf("preprocessor_config.json: n_fft %d, hop_length %d out of range", c.NFFT, c.HopLength)
	case c.NSamples < c.NFFT || c.NSamples > 3600*SampleRate || c.NbMaxFrames < 1 || c.NbMaxFrames > c.NSamples/c.HopLength+1:
		return nil, fmt.Errorf("preprocessor_config.json: n_samples %d, nb_max_frames %d out of range", c.NSamples, c.NbMaxFrames)
	}
	e := &WhisperExtractor{
		bins: c.FeatureSize, nfft: c.NFFT, hop: c.HopLength, samples: c.NSamples, frames: c.NbMaxFrames,
		fft: newFFTPlan(c.NFFT),
	}
	freqs := c.NFFT/2 + 1
	if c.MelFilters != nil {
		if len(c.MelFilters) != c.FeatureSize {
			return nil, fmt.Errorf("preprocessor_config.json: mel_filters has %d rows, feature_size is %d", len(c.MelFilters), c.FeatureSize)
		}
		for _, row := range c.MelFilters {
			if len(row) != freqs {
				return nil, fmt.Errorf("preprocessor_config.json: a mel_filters row has %d values, want %d", len(row), freqs)
			}
		}
		e.filters = c.MelFilters
	} else {
		e.filters = slaneyMelFilters(freqs, c.FeatureSize, 0, 8000, SampleRate)
	}
	// Each filter as transformers.js applies it, in float32.
	e.first, e.last = make([]int, c.FeatureSize), make([]int, c.FeatureSize)
	for m, row := range e.filters {
		e.first[m], e.last[m] = len(row), -1
		for f, v := range row {
			row[f] = float64(float32(v))
			if row[f] != 0 {
				e.first[m] = min(e.first[m], f)
				e.last[m] = f
			}
		}
	}
	// Periodic Hann: 0.5 − 0.5·cos(2πi/N).
	e.window = make([]float64, c.NFFT)
	for i := range e.window {
		e.window[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(c.NFFT))
	}
	return e, nil
}

// Bins is the number of mel bins (feature_size); Frames the frames per
// window (nb_max_frames); Samples the window's length at 16 kHz (n_samples).
func (e *WhisperExtractor) Bins() int    { return e.bins }
func (e *WhisperExtractor) Frames() int  { return e.frames }
func (e *WhisperExtractor) Samples() int { return e.samples }

// Extract writes the features of one window into out, [Bins][Frames]
// row-major (input_features without its batch axis). Audio longer than
// Samples() is cut, as WhisperFeatureExtractor does; long-form
// transcription calls it once per window.
func (e *WhisperExtractor) Extract(audio []float32, out []float32) error {
	if len(out) != e.bins*e.frames {
		return fmt.Errorf("audioprep: Extract needs %d outputs, got %d", e.bins*e.frames, len(out))
	}
	if len(audio) > e.samples {
		audio = audio[:e.samples]
	}
	half := e.nfft / 2
	// sample reads the reflect-padded, zero-extended window at index i.
	sample := func(i int) float64 {
		j := i - half
		switch {
		case j < 0:
			j = -j
		case j >= e.samples:
			j = 2*(e.samples-1) - j
		}
		if j < len(audio) {
			return float64(audio[j])
		}
		return 0
	}
	buf := make([]complex128, 2*e.nfft+e.nfft)
	in, spec, scratch := buf[:e.nfft], buf[e.nfft:2*e.nfft], buf[2*e.nfft:]
	power := make([]float64, e.nfft/2+1)
	logMax := math.Inf(-1)
	for t := range e.frames {
		start := t * e.hop
		for i := range in {
			in[i] = complex(sample(start+i)*e.window[i], 0)
		}
		e.fft.transform(spec, in, scratch)
		for f := range power {
			re, im := real(spec[f]), imag(spec[f])
			power[f] = float64(float32(re*re + im*im))
		}
		for m, row := range e.filters {
			var sum float64
			for f := e.first[m]; f <= e.last[m]; f++ {
				sum += row[f] * power[f]
			}
			v := math.Log10(max(float64(float32(sum)), 1e-10))
			out[m*e.frames+t] = float32(v)
			logMax = max(logMax, float64(float32(v)))
		}
	}
	floor := logMax - 8
	for i, v := range out {
		out[i] = float32((max(float64(v), floor) + 4) / 4)
	}
	return nil
}

// slaneyMelFilters is librosa's and Hugging Face's mel_filter_bank with
// norm="slaney", mel_scale="slaney": triangles between mel-spaced edges,
// over linearly spaced FFT bin frequencies, each scaled by 2/(its width in Hz).
func slaneyMelFilters(freqs, bins int, fmin, fmax float64, rate int) [][]float64 {
	const minLogHz, minLogMel = 1000.0, 15.0
	logstep := 27.0 / math.Log(6.4)
	hzToMel := func(f float64) float64 {
		if f >= minLogHz {
			return minLogMel + math.Log(f/minLogHz)*logstep
		}
		return 3 * f / 200
	}
	melToHz := func(m float64) float64 {
		if m >= minLogMel {
			return minLogHz * math.Exp(math.Log(6.4)/27*(m-minLogMel))
		}
		return 200 * m / 3
	}
	linspace := func(a, b float64, n int) []float64 {
		v := make([]float64, n)
		step := (b - a) / float64(n-1)
		for i := range v {
			v[i] = a + step*float64(i)
		}
		return v
	}
	mels := linspace(hzToMel(fmin), hzToMel(fmax), bins+2)
	edges := make([]float64, len(mels))
	for i, m := range mels {
		edges[i] = melToHz(m)
	}
	fft := linspace(0, math.Floor(float64(rate)/2), freqs)
	out := make([][]float64, bins)
	for i := range out {
		out[i] = make([]float64, freqs)
		enorm := 2 / (edges[i+2] - edges[i])
		for j, f := range fft {
			down := -(edges[i] - f) / (edges[i+1] - edges[i])
			up := (edges[i+2] - f) / (edges[i+2] - edges[i+1])
			out[i][j] = max(0, min(down, up)) * enorm
		}
	}
	return out
}
