package audioprep

import (
	"bytes"
	"encoding/binary"
)

const supported = "WAV, MP3, FLAC, Ogg/Opus, WebM/Opus"

// format is what detect found: a name for messages and, when we read it,
// the decoder. Ogg and WebM decoders name the codec themselves once they
// have read the stream headers.
type format struct {
	name   string
	decode func(data []byte, s *sink) error
}

// detect identifies the container (and where the first bytes say so, the
// codec) from magic numbers, never from a file name.
func detect(data []byte) format {
	switch {
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WAVE":
		return format{"WAV", decodeWAV}
	case len(data) >= 12 && string(data[:4]) == "RF64" && string(data[8:12]) == "WAVE":
		return format{name: "RF64 WAV"}
	case len(data) >= 12 && string(data[:4]) == "RIFF":
		return format{name: "RIFF/" + printable(data[8:12])}
	case bytes.HasPrefix(data, []byte("fLaC")):
		return format{"FLAC", decodeFLAC}
	case bytes.HasPrefix(data, []byte("OggS")):
		return format{"Ogg", decodeOgg}
	case bytes.HasPrefix(data, []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return format{"WebM", decodeWebM}
	case len(data) >= 12 && string(data[4:8]) == "ftyp":
		return format{name: "MP4/M4A (AAC or ALAC)"}
	case len(data) >= 12 && string(data[:4]) == "FORM" && (string(data[8:12]) == "AIFF" || string(data[8:12]) == "AIFC"):
		return format{name: "AIFF"}
	case bytes.HasPrefix(data, []byte("caff")):
		return format{name: "CAF"}
	case bytes.HasPrefix(data, []byte("#!AMR")):
		return format{name: "AMR"}
	case bytes.HasPrefix(data, []byte(".snd")):
		return format{name: "AU"}
	case bytes.HasPrefix(data, []byte("wvpk")):
		return format{name: "WavPack"}
	case bytes.HasPrefix(data, []byte("MAC ")):
		return format{name: "Monkey's Audio"}
	case bytes.HasPrefix(data, []byte{0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11}):
		return format{name: "ASF/WMA"}
	}
	// MPEG audio, possibly after an ID3v2 tag (which may also front FLAC).
	body := skipID3(data)
	if len(body) < len(data) && bytes.HasPrefix(body, []byte("fLaC")) {
		return format{name: "FLAC with an ID3 tag"}
	}
	switch mpegLayer(body) {
	case 3:
		return format{"MP3", decodeMP3}
	case 1, 2:
		return format{name: "MPEG audio Layer I/II"}
	case adts:
		return format{name: "AAC (ADTS)"}
	}
	if len(body) < len(data) {
		return format{name: "ID3-tagged data with no MPEG audio frame after the tag"}
	}
	return format{}
}

// skipID3 returns data after a leading ID3v2 tag, or data itself.
func skipID3(data []byte) []byte {
	if len(data) < 10 || string(data[:3]) != "ID3" {
		return data
	}
	n := 0
	for _, b := range data[6:10] {
		if b&0x80 != 0 {
			return data
		}
		n = n<<7 | int(b)
	}
	n += 10
	if data[5]&0x10 != 0 { // footer present
		n += 10
	}
	if n > len(data) {
		return data[len(data):]
	}
	return data[n:]
}

const adts = 4

// mpegLayer reads an MPEG audio frame header at the start of b: its layer
// (1–3), adts for an AAC ADTS header, or 0 when there is none.
func mpegLayer(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return 0
	}
	h := binary.BigEndian.Uint32(b)
	version, layer := (h>>19)&3, (h>>17)&3
	bitrate, rate := (h>>12)&15, (h>>10)&3
	if layer == 0 {
		if version&2 != 0 && b[1]&0xF6 == 0xF0 { // 1111 0xx0 ... layer 00: ADTS
			return adts
		}
		return 0
	}
	if version == 1 || bitrate == 15 || rate == 3 {
		return 0
	}
	return int(4 - layer)
}

// mpegChannels is 1 for a mono MPEG audio frame header, else 2.
func mpegChannels(b []byte) int {
	if len(b) >= 4 && b[3]>>6 == 3 {
		return 1
	}
	return 2
}

func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			c = '?'
		}
		out[i] = c
	}
	return string(bytes.TrimSpace(out))
}
