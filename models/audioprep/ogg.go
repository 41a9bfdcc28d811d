package audioprep

import (
	"bytes"
	"encoding/binary"
)

// decodeOgg demuxes the first logical stream of an Ogg file (RFC 3533),
// checking every page's CRC, and decodes it when it is Opus (RFC 7845):
// the pre-skip is dropped and the last granule position ends the stream.
// Other codecs are named in an ErrUnsupported.
func decodeOgg(data []byte, s *sink) error {
	const container = "Ogg"
	var (
		serial  uint32
		started bool
		packets [][]byte
		partial []byte // a packet continued on the next page
		last    int64  = -1
	)
	for p := 0; p < len(data); {
		if len(data)-p < 27 || string(data[p:p+4]) != "OggS" {
			return fail(ErrCorrupt, container, "has no Ogg page at byte %d", p)
		}
		hdr := data[p:]
		nseg := int(hdr[26])
		if len(hdr) < 27+nseg {
			return fail(ErrCorrupt, container, "has a truncated Ogg page at byte %d", p)
		}
		lacing := hdr[27 : 27+nseg]
		size := 27 + nseg
		for _, l := range lacing {
			size += int(l)
		}
		if len(hdr) < size {
			return fail(ErrCorrupt, container, "has a truncated Ogg page at byte %d", p)
		}
		page := hdr[:size]
		if hdr[4] != 0 {
			return fail(ErrCorrupt, container, "has an Ogg page of version %d", hdr[4])
		}
		if oggCRC(page) != binary.LittleEndian.Uint32(page[22:]) {
			return fail(ErrCorrupt, container, "has an Ogg page with a bad checksum at byte %d", p)
		}
		p += size
		flags, granule, pageSerial := hdr[5], int64(binary.LittleEndian.Uint64(hdr[6:])), binary.LittleEndian.Uint32(hdr[14:])
		if !started {
			if flags&2 == 0 {
				return fail(ErrCorrupt, container, "does not begin with a stream's first page")
			}
			serial, started = pageSerial, true
		}
		if pageSerial != serial {
			continue // another multiplexed stream (a skeleton, a video)
		}
		if flags&1 == 0 {
			partial = partial[:0] // a continuation with nothing to continue: drop it
		}
		body := page[27+nseg:]
		for _, l := range lacing {
			partial = append(partial, body[:l]...)
			body = body[l:]
			if l < 255 {
				packets = append(packets, bytes.Clone(partial))
				partial = partial[:0]
			}
		}
		if granule >= 0 {
			last = granule
		}
		if flags&4 != 0 {
			break // end of stream
		}
	}
	if len(packets) == 0 {
		return fail(ErrEmpty, container, "holds no packets (zero-length Ogg audio)")
	}
	head := packets[0]
	switch {
	case bytes.HasPrefix(head, []byte("OpusHead")):
	case bytes.HasPrefix(head, []byte("\x01vorbis")):
		return fail(ErrUnsupported, "Ogg/Vorbis", "unsupported codec: Ogg/Vorbis (supported: %s)", supported)
	case bytes.HasPrefix(head, []byte("\x7fFLAC")):
		return fail(ErrUnsupported, "Ogg/FLAC", "unsupported codec: Ogg/FLAC (supported: %s)", supported)
	case bytes.HasPrefix(head, []byte("Speex   ")):
		return fail(ErrUnsupported, "Ogg/Speex", "unsupported codec: Ogg/Speex (supported: %s)", supported)
	default:
		return fail(ErrUnsupported, "Ogg", "unsupported codec: Ogg with an unknown codec (supported: %s)", supported)
	}
	h, err := parseOpusHead(head, container)
	if err != nil {
		return err
	}
	if len(packets) < 2 || !bytes.HasPrefix(packets[1], []byte("OpusTags")) {
		return fail(ErrCorrupt, "Ogg/Opus", "has no OpusTags header")
	}
	packets = packets[2:]
	if len(packets) == 0 {
		return fail(ErrEmpty, "Ogg/Opus", "holds no audio packets (zero-length Ogg/Opus audio)")
	}
	return decodeOpusPackets(packets, h, last, container, s)
}

var oggTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04C11DB7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// oggCRC is the page checksum, computed with the checksum field as zero.
func oggCRC(page []byte) uint32 {
	var crc uint32
	for i, b := range page {
		if i >= 22 && i < 26 {
			b = 0
		}
		crc = crc<<8 ^ oggTable[byte(crc>>24)^b]
	}
	return crc
}
