// Package charsmap reads SentencePiece's precompiled normalization map (the
// precompiled_charsmap of a NormalizerSpec, also carried base64-encoded by
// Hugging Face's Precompiled normalizer): a Darts-clone double-array trie over
// UTF-8 byte strings whose values are offsets of NUL-terminated replacements.
package charsmap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Map is a parsed charsmap. The nil *Map maps nothing.
type Map struct {
	units       []uint32
	replacement []byte
}

// Parse splits the blob as SentencePiece stores it:
// <trie size, uint32 little-endian><trie units><replacement strings>.
// An empty blob gives a nil Map.
func Parse(blob []byte) (*Map, error) {
	if len(blob) == 0 {
		return nil, nil
	}
	if len(blob) < 4 {
		return nil, errors.New("precompiled charsmap is truncated")
	}
	size := binary.LittleEndian.Uint32(blob)
	if size%4 != 0 || uint64(size) >= uint64(len(blob)-4) {
		return nil, fmt.Errorf("precompiled charsmap: trie size %d does not fit a %d-byte blob", size, len(blob))
	}
	trie := blob[4 : 4+size]
	units := make([]uint32, size/4)
	for i := range units {
		units[i] = binary.LittleEndian.Uint32(trie[4*i:])
	}
	return &Map{units: units, replacement: blob[4+size:]}, nil
}

// LongestMatch returns the byte length of the longest key that prefixes s
// and its replacement, or 0 when no key does (Darts-clone's
// commonPrefixSearch keeping the longest result, as SentencePiece's
// normalizer does).
func (m *Map) LongestMatch(s string) (int, string) {
	return m.match(s, false)
}

// FirstMatch returns the byte length of the shortest key that prefixes s and
// its replacement, or 0 when no key does: the first result of
// commonPrefixSearch, which is what Hugging Face's Precompiled normalizer
// (spm_precompiled's transform) uses.
func (m *Map) FirstMatch(s string) (int, string) {
	return m.match(s, true)
}

func (m *Map) match(s string, first bool) (int, string) {
	if m == nil || len(m.units) == 0 {
		return 0, ""
	}
	// Unit layout (darts.h): bit 8 marks a leaf below, the low byte plus
	// bit 31 is the label, and the offset to the children sits above bit 10,
	// scaled by 256 when bit 9 is set.
	offset := func(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }
	label := func(u uint32) uint32 { return u & ((1 << 31) | 0xFF) }
	pos := offset(m.units[0])
	bestLen, bestValue := 0, uint32(0)
	for i := 0; i < len(s); i++ {
		c := uint32(s[i])
		pos ^= c
		if int(pos) >= len(m.units) {
			break
		}
		u := m.units[pos]
		if label(u) != c {
			break
		}
		pos ^= offset(u)
		if int(pos) >= len(m.units) {
			break
		}
		if (u>>8)&1 == 1 {
			bestLen, bestValue = i+1, m.units[pos]&(1<<31-1)
			if first {
				break
			}
		}
	}
	if bestLen == 0 || int(bestValue) >= len(m.replacement) {
		return 0, ""
	}
	rep := m.replacement[bestValue:]
	if end := bytes.IndexByte(rep, 0); end >= 0 {
		rep = rep[:end]
	}
	return bestLen, string(rep)
}
