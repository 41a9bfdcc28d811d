package audioprep

import (
	"encoding/binary"
	"math"
)

// WAVE format tags (mmreg.h).
const (
	wavePCM        = 0x0001
	waveFloat      = 0x0003
	waveALaw       = 0x0006
	waveMuLaw      = 0x0007
	waveExtensible = 0xFFFE
)

type wavFormat struct {
	tag        uint16
	channels   int
	rate       int
	blockAlign int
	bits       int
}

// decodeWAV reads RIFF/WAVE: integer PCM of 8 (unsigned), 16, 24 and 32
// bits, IEEE float of 32 and 64 bits, A-law and µ-law, plain or
// WAVE_FORMAT_EXTENSIBLE. A data chunk whose size is 0 or 0xFFFFFFFF, or
// runs past the end (as streaming writers leave it), extends to the end of
// the file; a trailing partial frame is dropped.
func decodeWAV(data []byte, s *sink) error {
	const name = "WAV"
	var f *wavFormat
	for p := 12; p+8 <= len(data); {
		id, size := string(data[p:p+4]), int64(binary.LittleEndian.Uint32(data[p+4:]))
		body := data[p+8:]
		switch id {
		case "fmt ":
			if size > int64(len(body)) {
				return fail(ErrCorrupt, name, "has a truncated fmt chunk")
			}
			var err error
			if f, err = parseWAVFormat(body[:size]); err != nil {
				return err
			}
		case "data":
			if f == nil {
				return fail(ErrCorrupt, name, "has its data chunk before the fmt chunk")
			}
			if size == 0 || size == 0xFFFFFFFF || size > int64(len(body)) {
				size = int64(len(body))
			}
			return decodeWAVData(body[:size], f, s)
		}
		p += 8 + int(min(size+size&1, int64(len(data))))
	}
	if f == nil {
		return fail(ErrCorrupt, name, "has no fmt chunk")
	}
	return fail(ErrEmpty, name, "has no data chunk (zero-length WAV audio)")
}

func parseWAVFormat(b []byte) (*wavFormat, error) {
	const name = "WAV"
	if len(b) < 16 {
		return nil, fail(ErrCorrupt, name, "has a fmt chunk of %d bytes (at least 16 needed)", len(b))
	}
	f := &wavFormat{
		tag:        binary.LittleEndian.Uint16(b),
		channels:   int(binary.LittleEndian.Uint16(b[2:])),
		rate:       int(binary.LittleEndian.Uint32(b[4:])),
		blockAlign: int(binary.LittleEndian.Uint16(b[12:])),
		bits:       int(binary.LittleEndian.Uint16(b[14:])),
	}
	if f.tag == waveExtensible {
		if len(b) < 40 {
			return nil, fail(ErrCorrupt, name, "has a WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes (40 needed)", len(b))
		}
		// The sub-format GUID starts with the format tag it stands for.
		f.tag = binary.LittleEndian.Uint16(b[24:])
	}
	supportedBits := map[uint16][]int{
		wavePCM:   {8, 16, 24, 32},
		waveFloat: {32, 64},
		waveALaw:  {8},
		waveMuLaw: {8},
	}
	bits, ok := supportedBits[f.tag]
	if !ok {
		return nil, fail(ErrUnsupported, "WAV", "unsupported codec: WAV with format tag 0x%04X (supported: PCM, IEEE float, A-law, µ-law)", f.tag)
	}
	okBits := false
	for _, n := range bits {
		okBits = okBits || n == f.bits
	}
	if !okBits {
		return nil, fail(ErrUnsupported, "WAV", "unsupported codec: WAV with %d-bit samples of format tag 0x%04X", f.bits, f.tag)
	}
	if f.channels < 1 || f.blockAlign != f.channels*f.bits/8 {
		return nil, fail(ErrCorrupt, name, "declares %d channels of %d bits in blocks of %d bytes", f.channels, f.bits, f.blockAlign)
	}
	return f, nil
}

func decodeWAVData(b []byte, f *wavFormat, s *sink) error {
	frames := len(b) / f.blockAlign
	if err := s.start(f.rate, f.channels, int64(frames)); err != nil {
		return err
	}
	width := f.bits / 8
	const chunkFrames = 4096
	buf := make([]float32, min(frames, chunkFrames)*f.channels)
	for done := 0; done < frames; {
		n := min(frames-done, chunkFrames)
		in := b[done*f.blockAlign : (done+n)*f.blockAlign]
		out := buf[:n*f.channels]
		for i := range out {
			out[i] = wavSample(in[i*width:], f.tag, f.bits)
		}
		if err := s.write(out); err != nil {
			return err
		}
		done += n
	}
	return nil
}

// wavSample decodes one sample to [-1, 1): integers scale by 2^-(bits-1).
func wavSample(b []byte, tag uint16, bits int) float32 {
	switch {
	case tag == waveFloat && bits == 32:
		return math.Float32frombits(binary.LittleEndian.Uint32(b))
	case tag == waveFloat:
		return float32(math.Float64frombits(binary.LittleEndian.Uint64(b)))
	case tag == waveALaw:
		return float32(alaw(b[0])) / 32768
	case tag == waveMuLaw:
		return float32(mulaw(b[0])) / 32768
	case bits == 8:
		return float32(int(b[0])-128) / 128
	case bits == 16:
		return float32(int16(binary.LittleEndian.Uint16(b))) / (1 << 15)
	case bits == 24:
		v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
		return float32(v) / (1 << 23)
	default:
		return float32(float64(int32(binary.LittleEndian.Uint32(b))) / (1 << 31))
	}
}

// mulaw and alaw expand G.711 bytes to 16-bit linear PCM.
func mulaw(u byte) int {
	u = ^u
	t := (int(u&0x0F)<<3 + 0x84) << (int(u&0x70) >> 4)
	if u&0x80 != 0 {
		return 0x84 - t
	}
	return t - 0x84
}

func alaw(a byte) int {
	a ^= 0x55
	t := int(a&0x0F) << 4
	seg := int(a&0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t = (t + 0x108) << (seg - 1)
	}
	if a&0x80 != 0 {
		return t
	}
	return -t
}
