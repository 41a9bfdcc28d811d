package audioprep

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	"github.com/hajimehoshi/go-mp3"
)

// decodeMP3 decodes MPEG-1/2/2.5 Layer III with go-mp3, which always
// yields 16-bit stereo (a mono stream on both channels). It scans the frame
// headers first, so the duration is checked before any frame is decoded.
// The encoder delay and padding a LAME tag declares are not trimmed (a few
// hundred samples of silence at each end).
func decodeMP3(data []byte, s *sink) error {
	const name = "MP3"
	d, err := mp3.NewDecoder(bytes.NewReader(data))
	if err != nil {
		return fail(ErrCorrupt, name, "could not be decoded as MP3 (no valid frame): %v", err)
	}
	frames := d.Length() / 4
	if err := s.start(d.SampleRate(), 2, frames); err != nil {
		return err
	}
	s.srcChannels = mpegChannels(skipID3(data)) // go-mp3 gives 2 either way
	raw := make([]byte, 4*4096)
	pcm := make([]float32, 2*4096)
	var carry int
	for {
		n, err := d.Read(raw[carry:])
		n += carry
		whole := n &^ 3
		for i := range whole / 2 {
			pcm[i] = float32(int16(binary.LittleEndian.Uint16(raw[2*i:]))) / (1 << 15)
		}
		if whole > 0 {
			if werr := s.write(pcm[:whole/2]); werr != nil {
				return werr
			}
		}
		carry = copy(raw, raw[whole:n])
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fail(ErrCorrupt, name, "could not be decoded as MP3 (truncated or corrupt): %v", err)
		}
	}
}
