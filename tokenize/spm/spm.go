// Package spm is a SentencePiece BPE tokenizer read from a .model file (the
// ModelProto of tokenize/spm/spmpb), faithful to the reference library for the
// options M2M100-style models use: the precompiled charsmap normalizer
// (nmt_nfkc), add_dummy_prefix, remove_extra_whitespaces, whitespace
// escaped as ▁, user-defined pieces and BPE merges by piece score.
package spm

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/edgeinfer/edgeinfer/tokenize/spm/spmpb"
)

// defaultUnkSurface is what <unk> decodes to when the model sets no
// unk_surface (SentencePiece's kDefaultUnknownSymbol).
const defaultUnkSurface = " \u2047 "

// Processor encodes and decodes text with one SentencePiece BPE model. It is
// immutable after Load and safe for concurrent use.
type Processor struct {
	norm *normalizer
	// mergeable maps the pieces BPE may produce (normal, user-defined and
	// unused ones) to their ids; reserved maps the rest (control, unknown,
	// byte pieces), which only ever come from ids.
	mergeable map[string]int
	reserved  map[string]int
	pieces    []piece
	unkID     int
	// userDefined pieces are matched whole and never merged further.
	userDefined *prefixMatcher
	unkSurface  string
	// stripLeadingSpace: decoding drops the ▁ of the first piece, undoing
	// the dummy prefix.
	stripLeadingSpace bool
}

type piece struct {
	text  string
	score float32
	typ   spmpb.ModelProto_SentencePiece_Type
}

// Load reads a SentencePiece model file.
func Load(path string) (*Processor, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Parse reads a serialized SentencePiece ModelProto. Only BPE models
// without byte fallback are accepted: other kinds would encode differently.
func Parse(raw []byte) (*Processor, error) {
	m := &spmpb.ModelProto{}
	if err := proto.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("not a SentencePiece model: %w", err)
	}
	ts := m.GetTrainerSpec()
	if t := ts.GetModelType(); t != spmpb.TrainerSpec_BPE {
		return nil, fmt.Errorf("model type %v is not supported (only BPE)", t)
	}
	if ts.GetByteFallback() {
		return nil, errors.New("byte fallback is not supported")
	}
	if ts.GetTreatWhitespaceAsSuffix() {
		return nil, errors.New("treat_whitespace_as_suffix is not supported")
	}
	p := &Processor{
		mergeable: map[string]int{}, reserved: map[string]int{}, unkID: -1,
		unkSurface: defaultUnkSurface,
	}
	if ts.UnkSurface != nil {
		p.unkSurface = ts.GetUnkSurface()
	}
	var userDefined []string
	for id, sp := range m.GetPieces() {
		pc := piece{text: sp.GetPiece(), score: sp.GetScore(), typ: sp.GetType()}
		p.pieces = append(p.pieces, pc)
		table := p.reserved
		switch pc.typ {
		case spmpb.ModelProto_SentencePiece_NORMAL, spmpb.ModelProto_SentencePiece_UNUSED:
			table = p.mergeable
		case spmpb.ModelProto_SentencePiece_USER_DEFINED:
			table = p.mergeable
			userDefined = append(userDefined, pc.text)
		case spmpb.ModelProto_SentencePiece_UNKNOWN:
			if p.unkID >= 0 {
				return nil, errors.New("more than one unknown piece")
			}
			p.unkID = id
		}
		if pc.text == "" {
			return nil, fmt.Errorf("piece %d is empty", id)
		}
		if _, dup := p.mergeable[pc.text]; dup {
			return nil, fmt.Errorf("piece %q appears twice", pc.text)
		}
		if _, dup := p.reserved[pc.text]; dup {
			return nil, fmt.Errorf("piece %q appears twice", pc.text)
		}
		table[pc.text] = id
	}
	if p.unkID < 0 {
		return nil, errors.New("model has no unknown piece")
	}
	p.userDefined = newPrefixMatcher(userDefined)
	norm, err := newNormalizer(m.GetNormalizerSpec(), p.userDefined)
	if err != nil {
		return nil, err
	}
	p.norm = norm
	ns := m.GetNormalizerSpec()
	p.stripLeadingSpace = ns.GetAddDummyPrefix() || ns.GetRemoveExtraWhitespaces()
	return p, nil
}

// Normalize returns text as the model sees it before segmentation: mapped
// through the charsmap, spaces collapsed and written as ▁, with the dummy
// prefix.
func (p *Processor) Normalize(text string) string { return p.norm.normalize(text) }

// EncodePieces segments text into pieces. Characters outside the
// vocabulary come back as their own text, a run of them as one piece (as
// SentencePiece merges runs of unknown pieces); their id is the unknown id.
func (p *Processor) EncodePieces(text string) []string {
	pieces := p.bpe(p.norm.normalize(text))
	out := pieces[:0]
	prevUnknown := false
	for _, pc := range pieces {
		unknown := p.PieceToID(pc) == p.unkID
		if unknown && prevUnknown {
			out[len(out)-1] += pc
			continue
		}
		out = append(out, pc)
		prevUnknown = unknown
	}
	return out
}

// Encode segments text into piece ids; unknown pieces get the unknown id.
func (p *Processor) Encode(text string) []int {
	pieces := p.EncodePieces(text)
	ids := make([]int, len(pieces))
	for i, pc := range pieces {
		ids[i] = p.PieceToID(pc)
	}
	return ids
}

// PieceToID is the id of a piece, or the unknown id.
func (p *Processor) PieceToID(pc string) int {
	if id, ok := p.mergeable[pc]; ok {
		return id
	}
	if id, ok := p.reserved[pc]; ok {
		return id
	}
	return p.unkID
}

// Len is the number of pieces in the model.
func (p *Processor) Len() int { return len(p.pieces) }

// Decode joins pieces into text as SentencePiece does: control pieces
// vanish, <unk> becomes the unknown surface, ▁ becomes a space, and the
// space the dummy prefix added before the first word is dropped.
func (p *Processor) Decode(pieces []string) string {
	var b strings.Builder
	atStart := true // still expecting the dummy-prefix space
	for _, pc := range pieces {
		id := p.PieceToID(pc)
		var surface string
		consumedSpace := false
		switch typ := p.pieces[id].typ; {
		case typ == spmpb.ModelProto_SentencePiece_CONTROL:
		case id == p.unkID && pc == p.pieces[id].text:
			surface = p.unkSurface
		case id == p.unkID:
			surface = pc // a piece outside the vocabulary decodes as itself
		default:
			text := pc
			if atStart && p.stripLeadingSpace {
				var ok bool
				text, ok = strings.CutPrefix(text, spaceSymbol)
				// With remove_extra_whitespaces every leading space goes,
				// so a lone ▁ does not end the start.
				consumedSpace = ok && !p.norm.collapse
			}
			surface = strings.ReplaceAll(text, spaceSymbol, " ")
		}
		if atStart && (surface != "" || consumedSpace) {
			atStart = false
		}
		b.WriteString(surface)
	}
	return b.String()
}
