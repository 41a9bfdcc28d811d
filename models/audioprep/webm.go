package audioprep

import (
	"math"
)

// Matroska/WebM element IDs this demuxer reads (IDs keep their length marker).
const (
	idEBML           = 0x1A45DFA3
	idDocType        = 0x4282
	idSegment        = 0x18538067
	idCluster        = 0x1F43B675
	idTracks         = 0x1654AE6B
	idTrackEntry     = 0xAE
	idTrackNumber    = 0xD7
	idTrackType      = 0x83
	idCodecID        = 0x86
	idCodecPrivate   = 0x63A2
	idAudio          = 0xE1
	idChannels       = 0x9F
	idTimecode       = 0xE7
	idSimpleBlock    = 0xA3
	idBlockGroup     = 0xA0
	idBlock          = 0xA1
	idDiscardPadding = 0x75A2
)

// masters are entered rather than skipped, so their sizes do not matter:
// MediaRecorder writes the Segment and each Cluster with an unknown size.
var masters = map[uint32]bool{
	idSegment: true, idCluster: true, idTracks: true, idTrackEntry: true,
	idBlockGroup: true, idAudio: true,
}

type webmTrack struct {
	number  uint64
	kind    uint64
	codec   string
	private []byte
}

// decodeWebM demuxes WebM or Matroska as one flat walk over the elements,
// entering the masters it needs (Segment, Cluster, Tracks, TrackEntry,
// BlockGroup) and skipping the rest, and decodes the first audio track
// when it is Opus: the OpusHead in CodecPrivate gives the pre-skip, a last
// block's DiscardPadding trims the end. Blocks may be laced.
func decodeWebM(data []byte, s *sink) error {
	container := "WebM"
	var (
		tracks  []*webmTrack
		blocks  []webmBlock
		discard int64 // ns, from the last block's BlockGroup
	)
	for p := 0; p < len(data); {
		id, n := readID(data[p:])
		if n == 0 {
			return fail(ErrCorrupt, container, "has a malformed element ID at byte %d", p)
		}
		size, m, unknown := readSize(data[p+n:])
		if m == 0 {
			return fail(ErrCorrupt, container, "has a malformed element size at byte %d", p)
		}
		p += n + m
		if id == idTrackEntry {
			tracks = append(tracks, &webmTrack{})
		}
		if masters[id] {
			continue
		}
		if unknown || size > uint64(len(data)-p) {
			return fail(ErrCorrupt, container, "has an element 0x%X that runs past the end", id)
		}
		body := data[p : p+int(size)]
		p += int(size)
		var t *webmTrack
		if len(tracks) > 0 {
			t = tracks[len(tracks)-1]
		}
		switch id {
		case idEBML:
			if doc := findChild(body, idDocType); doc != nil && string(doc) == "matroska" {
				container = "Matroska"
			}
		case idTrackNumber, idTrackType, idCodecID, idCodecPrivate:
			if t == nil {
				break // outside any TrackEntry
			}
			switch id {
			case idTrackNumber:
				t.number = readUint(body)
			case idTrackType:
				t.kind = readUint(body)
			case idCodecID:
				t.codec = string(body)
			case idCodecPrivate:
				t.private = body
			}
		case idSimpleBlock, idBlock:
			b, ok := parseBlock(body)
			if !ok {
				return fail(ErrCorrupt, container, "has a malformed block")
			}
			blocks = append(blocks, b)
			discard = 0
		case idDiscardPadding:
			discard = int64(readUint(body))
			if len(body) > 0 && len(body) < 8 && body[0]&0x80 != 0 { // signed
				discard -= 1 << (8 * len(body))
			}
		}
	}
	var audio *webmTrack
	for _, t := range tracks {
		if t.kind == 2 || t.kind == 0 && len(t.codec) > 2 && t.codec[:2] == "A_" {
			audio = t
			break
		}
	}
	if audio == nil {
		return fail(ErrEmpty, container, "has no audio track (zero-length %s audio)", container)
	}
	if audio.codec != "A_OPUS" {
		name := container + "/" + webmCodecName(audio.codec)
		return fail(ErrUnsupported, name, "unsupported codec: %s (supported: %s)", name, supported)
	}
	h, err := parseOpusHead(audio.private, container)
	if err != nil {
		return err
	}
	var packets [][]byte
	var total int64
	for _, b := range blocks {
		if b.track != audio.number {
			continue
		}
		for _, f := range b.frames {
			packets = append(packets, f)
			total += int64(opusSamples(f))
		}
	}
	if len(packets) == 0 {
		return fail(ErrEmpty, container+"/Opus", "holds no audio blocks (zero-length %s/Opus audio)", container)
	}
	if discard > 0 {
		total -= discard * opusRate / 1e9
	}
	return decodeOpusPackets(packets, h, max(total, 0), container, s)
}

func webmCodecName(id string) string {
	switch id {
	case "A_VORBIS":
		return "Vorbis"
	case "A_AAC":
		return "AAC"
	case "A_FLAC":
		return "FLAC"
	case "A_MPEG/L3":
		return "MP3"
	case "A_PCM/INT/LIT", "A_PCM/FLOAT/IEEE":
		return "PCM"
	}
	return printable([]byte(id))
}

type webmBlock struct {
	track  uint64
	frames [][]byte
}

// parseBlock reads a (Simple)Block: track number, timecode, flags, and its
// frames, laced (Xiph, fixed-size or EBML) or not.
func parseBlock(b []byte) (webmBlock, bool) {
	track, n, unknown := readSize(b)
	if n == 0 || unknown || len(b) < n+3 {
		return webmBlock{}, false
	}
	blk := webmBlock{track: track}
	flags := b[n+2]
	b = b[n+3:]
	lacing := (flags >> 1) & 3
	if lacing == 0 {
		blk.frames = [][]byte{b}
		return blk, true
	}
	if len(b) < 1 {
		return blk, false
	}
	count := int(b[0]) + 1
	b = b[1:]
	sizes := make([]int, count)
	switch lacing {
	case 1: // Xiph
		for i := range count - 1 {
			for {
				if len(b) == 0 {
					return blk, false
				}
				c := b[0]
				b = b[1:]
				sizes[i] += int(c)
				if c < 255 {
					break
				}
			}
		}
	case 2: // fixed
		if len(b)%count != 0 {
			return blk, false
		}
		for i := range sizes {
			sizes[i] = len(b) / count
		}
	case 3: // EBML
		first, m, _ := readSize(b)
		if m == 0 {
			return blk, false
		}
		b = b[m:]
		sizes[0] = int(min(first, math.MaxInt32))
		for i := 1; i < count-1; i++ {
			v, m, _ := readSize(b)
			if m == 0 {
				return blk, false
			}
			b = b[m:]
			delta := int64(v) - (1<<(7*m-1) - 1) // signed, offset by half the range
			sizes[i] = sizes[i-1] + int(delta)
		}
	}
	for i := range count - 1 {
		if sizes[i] < 0 || sizes[i] > len(b) {
			return blk, false
		}
		blk.frames = append(blk.frames, b[:sizes[i]])
		b = b[sizes[i]:]
	}
	blk.frames = append(blk.frames, b)
	return blk, true
}

// readID reads an element ID (1–4 bytes, marker kept); n is 0 when malformed.
func readID(b []byte) (id uint32, n int) {
	if len(b) == 0 || b[0] < 0x10 {
		return 0, 0
	}
	n = 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if len(b) < n {
		return 0, 0
	}
	for _, c := range b[:n] {
		id = id<<8 | uint32(c)
	}
	return id, n
}

// readSize reads a variable-length size (1–8 bytes, marker removed);
// unknown is set when every value bit is 1. n is 0 when malformed.
func readSize(b []byte) (v uint64, n int, unknown bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false
	}
	n = 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if len(b) < n {
		return 0, 0, false
	}
	v = uint64(b[0] & (0xFF >> n))
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return v, n, v == 1<<(7*n)-1
}

func readUint(b []byte) uint64 {
	var v uint64
	for _, c := range b[:min(len(b), 8)] {
		v = v<<8 | uint64(c)
	}
	return v
}

// findChild returns the body of the first child element id in a master's body.
func findChild(b []byte, want uint32) []byte {
	for len(b) > 0 {
		id, n := readID(b)
		if n == 0 {
			return nil
		}
		size, m, unknown := readSize(b[n:])
		if m == 0 || unknown || size > uint64(len(b)-n-m) {
			return nil
		}
		body := b[n+m : n+m+int(size)]
		if id == want {
			return body
		}
		b = b[n+m+int(size):]
	}
	return nil
}
