package audioprep

import (
	"bytes"
	"errors"
	"io"

	"github.com/mewkiz/flac"
)

// decodeFLAC decodes FLAC with github.com/mewkiz/flac, frame by frame.
func decodeFLAC(data []byte, s *sink) error {
	const name = "FLAC"
	stream, err := flac.New(bytes.NewReader(data))
	if err != nil {
		return fail(ErrCorrupt, name, "could not be decoded as FLAC (bad stream header): %v", err)
	}
	info := stream.Info
	if info.BitsPerSample < 4 || info.BitsPerSample > 32 {
		return fail(ErrCorrupt, name, "declares %d bits per sample", info.BitsPerSample)
	}
	declared := int64(info.NSamples)
	if info.NSamples > 1<<62 {
		declared = 1 << 62
	}
	channels := int(info.NChannels)
	if err := s.start(int(info.SampleRate), channels, declared); err != nil {
		return err
	}
	var pcm []float32
	var decoded uint64
	for {
		f, err := stream.ParseNext()
		if errors.Is(err, io.EOF) {
			// The decoder reads a frame cut short as the end of the stream.
			if info.NSamples > 0 && decoded != info.NSamples {
				return fail(ErrCorrupt, name, "could not be decoded as FLAC (truncated or corrupt): %d of the %d samples its header declares", decoded, info.NSamples)
			}
			return nil
		}
		if err != nil {
			return fail(ErrCorrupt, name, "could not be decoded as FLAC (truncated or corrupt frame): %v", err)
		}
		if len(f.Subframes) != channels {
			return fail(ErrCorrupt, name, "has a frame of %d channels in a %d-channel stream", len(f.Subframes), channels)
		}
		bps := f.BitsPerSample
		if bps == 0 {
			bps = info.BitsPerSample
		}
		scale := 1 / float32(int64(1)<<(bps-1))
		n := int(f.BlockSize)
		for _, sf := range f.Subframes {
			if len(sf.Samples) != n {
				return fail(ErrCorrupt, name, "has a subframe of %d samples in a block of %d", len(sf.Samples), n)
			}
		}
		decoded += uint64(n)
		pcm = grow(pcm, n*channels)
		for c, sf := range f.Subframes {
			for i, v := range sf.Samples {
				pcm[i*channels+c] = float32(v) * scale
			}
		}
		if err := s.write(pcm); err != nil {
			return err
		}
	}
}
