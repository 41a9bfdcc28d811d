package audioprep

import (
	"encoding/binary"
	"math"
)

// Opus is decoded by libopus (Xiph's reference decoder), loaded at run time
// from libopus.so.0 (Debian: libopus0). No pure-Go decoder covers the
// format: github.com/pion/opus v0.1.0 decodes SILK frames only, and browsers'
// MediaRecorder writes CELT and hybrid frames. Loading with dlopen rather
// than linking keeps every build compiling without libopus's headers; a
// server without the library answers ErrNoCodec, saying so.

// opusRate is the rate libopus decodes at: every Opus stream decodes to
// 48 kHz whatever rate its header names.
const opusRate = 48000

// maxOpusFrame is the largest packet duration (120 ms at 48 kHz).
const maxOpusFrame = 5760

// opusHead is the identification header (RFC 7845 §5.1), shared by Ogg and
// by WebM's CodecPrivate.
type opusHead struct {
	channels, preSkip int
	gain              float32 // linear factor from the Q7.8 dB output gain
	streams, coupled  int
	mapping           []byte
}

func parseOpusHead(b []byte, container string) (*opusHead, error) {
	name := container + "/Opus"
	if len(b) < 19 || string(b[:8]) != "OpusHead" {
		return nil, fail(ErrCorrupt, name, "has no valid OpusHead header")
	}
	if b[8]>>4 != 0 {
		return nil, fail(ErrUnsupported, name, "unsupported codec: %s of header version %d", name, b[8])
	}
	h := &opusHead{
		channels: int(b[9]),
		preSkip:  int(binary.LittleEndian.Uint16(b[10:])),
		gain:     float32(math.Pow(10, float64(int16(binary.LittleEndian.Uint16(b[16:])))/(20*256))),
	}
	if h.channels == 0 {
		return nil, fail(ErrCorrupt, name, "declares 0 channels")
	}
	switch family := b[18]; family {
	case 0:
		if h.channels > 2 {
			return nil, fail(ErrCorrupt, name, "declares %d channels with channel mapping family 0", h.channels)
		}
		h.streams, h.coupled = 1, h.channels-1
		h.mapping = []byte{0, 1}[:h.channels]
	default:
		if len(b) < 21+h.channels {
			return nil, fail(ErrCorrupt, name, "has a truncated channel mapping table")
		}
		h.streams, h.coupled = int(b[19]), int(b[20])
		h.mapping = b[21 : 21+h.channels]
		if h.streams == 0 || h.coupled > h.streams || h.streams+h.coupled > 255 {
			return nil, fail(ErrCorrupt, name, "declares %d streams, %d coupled", h.streams, h.coupled)
		}
		for _, m := range h.mapping {
			if m != 255 && int(m) >= h.streams+h.coupled {
				return nil, fail(ErrCorrupt, name, "maps a channel to stream %d of %d", m, h.streams+h.coupled)
			}
		}
	}
	return h, nil
}

// opusSamples is the duration of a packet at 48 kHz from its TOC byte
// (RFC 6716 §3.1), or 0 for a malformed packet. A multistream packet's
// duration is its first stream's.
func opusSamples(p []byte) int {
	if len(p) == 0 {
		return 0
	}
	config := int(p[0] >> 3)
	var per int
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		per = []int{480, 960, 1920, 2880}[config&3]
	case config < 16: // hybrid: 10, 20 ms
		per = []int{480, 960}[config&1]
	default: // CELT: 2.5, 5, 10, 20 ms
		per = []int{120, 240, 480, 960}[config&3]
	}
	var frames int
	switch p[0] & 3 {
	case 0:
		frames = 1
	case 1, 2:
		frames = 2
	default:
		if len(p) < 2 {
			return 0
		}
		frames = int(p[1] & 0x3F)
	}
	if n := frames * per; n <= maxOpusFrame {
		return n
	}
	return 0
}

// decodeOpusPackets decodes packets with libopus, drops the first preSkip
// samples and ends the stream at total samples (pre-skip included) when
// total ≥ 0, as the container's end position says.
func decodeOpusPackets(packets [][]byte, h *opusHead, total int64, container string, s *sink) error {
	name := container + "/Opus"
	var declared int64
	for _, p := range packets {
		n := opusSamples(p)
		if n == 0 {
			return fail(ErrCorrupt, name, "has a malformed Opus packet")
		}
		declared += int64(n)
	}
	if total >= 0 {
		declared = min(declared, total)
	}
	if err := s.start(opusRate, h.channels, declared-int64(h.preSkip)); err != nil {
		return err
	}
	dec, err := newOpusDecoder(h)
	if err != nil {
		return fail(ErrNoCodec, name, "%s audio cannot be decoded on this server: %v", name, err)
	}
	defer dec.close()
	pcm := make([]float32, maxOpusFrame*h.channels)
	var pos int64 // samples decoded, pre-skip included
	for _, p := range packets {
		n, err := dec.decode(p, pcm)
		if err != nil {
			return fail(ErrCorrupt, name, "could not be decoded as %s (corrupt packet): %v", name, err)
		}
		from, to := int64(0), int64(n)
		if skip := int64(h.preSkip) - pos; skip > 0 {
			from = min(skip, to)
		}
		if total >= 0 && pos+to > total {
			to = max(total-pos, from)
		}
		pos += int64(n)
		if from == to {
			continue
		}
		out := pcm[from*int64(h.channels) : to*int64(h.channels)]
		if h.gain != 1 {
			for i := range out {
				out[i] *= h.gain
			}
		}
		if err := s.write(out); err != nil {
			return err
		}
		if total >= 0 && pos >= total {
			break
		}
	}
	return nil
}

// opusDecoder decodes one stream's packets to interleaved float32 at 48 kHz.
type opusDecoder interface {
	// decode writes the packet's samples into pcm (room for maxOpusFrame
	// per channel) and returns how many per channel.
	decode(packet []byte, pcm []float32) (int, error)
	close()
}
