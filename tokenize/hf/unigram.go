package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"unicode/utf8"
)

// model turns one normalized pre-token into ids, appended to ids.
type model interface {
	appendIDs(ids []int64, word string) []int64
	tokenID(token string) (int64, bool)
	// idToken is the vocabulary piece of an id.
	idToken(id int64) (string, bool)
}

// unkPenalty is how far below the lowest piece score an unknown character
// scores (tokenizers' K_UNK_PENALTY, SentencePiece's kUnkPenalty).
const unkPenalty = 10.0

// unigram is the SentencePiece Unigram model as tokenizers implements it:
// the Viterbi path over every vocabulary piece that matches (special pieces
// included), a character no piece covers scoring min score − 10 as the
// unknown piece, runs of unknown characters fused into one unknown token,
// and with byte_fallback an unknown token spelt as <0xXX> pieces when the
// vocabulary has all of its bytes.
type unigram struct {
	scores       []float64
	pieces       []string // by id
	ids          map[string]int64
	unkID        int64
	unkScore     float64
	byteFallback bool
	byteIDs      [256]int64 // -1 where <0xXX> is missing
	trie         pieceTrie
	lattice      sync.Pool // *[]latticeNode
}

// vocabEntry is one ["piece", score] pair.
type vocabEntry struct {
	piece string
	score float64
}

func (e *vocabEntry) UnmarshalJSON(b []byte) error {
	var pair [2]json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if err := json.Unmarshal(pair[0], &e.piece); err != nil {
		return err
	}
	return json.Unmarshal(pair[1], &e.score)
}

func newUnigram(raw json.RawMessage) (model, error) {
	var c struct {
		UnkID        *int64       `json:"unk_id"`
		Vocab        []vocabEntry `json:"vocab"`
		ByteFallback bool         `json:"byte_fallback"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if len(c.Vocab) == 0 {
		return nil, errors.New("unigram: empty vocabulary")
	}
	if c.UnkID == nil {
		return nil, errors.New("unigram: unk_id is required")
	}
	if *c.UnkID < 0 || *c.UnkID >= int64(len(c.Vocab)) {
		return nil, fmt.Errorf("unigram: unk_id %d is outside the %d-piece vocabulary", *c.UnkID, len(c.Vocab))
	}
	u := &unigram{
		scores: make([]float64, len(c.Vocab)), pieces: make([]string, len(c.Vocab)),
		ids:   make(map[string]int64, len(c.Vocab)),
		unkID: *c.UnkID, byteFallback: c.ByteFallback,
	}
	minScore := math.Inf(1)
	pieces := make([]string, 0, len(c.Vocab))
	for id, e := range c.Vocab {
		if e.piece == "" {
			return nil, fmt.Errorf("unigram: piece %d is empty", id)
		}
		if math.IsNaN(e.score) || math.IsInf(e.score, 0) {
			return nil, fmt.Errorf("unigram: piece %d has score %v", id, e.score)
		}
		u.scores[id] = e.score
		u.pieces[id] = e.piece
		if _, dup := u.ids[e.piece]; !dup {
			pieces = append(pieces, e.piece)
		}
		u.ids[e.piece] = int64(id) // a repeated piece keeps its last id, as the library's map does
		minScore = min(minScore, e.score)
	}
	u.unkScore = minScore - unkPenalty
	for b := range u.byteIDs {
		u.byteIDs[b] = -1
		if id, ok := u.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			u.byteIDs[b] = id
		}
	}
	u.trie = newPieceTrie(pieces, u.ids)
	return u, nil
}

func (u *unigram) tokenID(token string) (int64, bool) {
	id, ok := u.ids[token]
	return id, ok
}

func (u *unigram) idToken(id int64) (string, bool) {
	if id < 0 || id >= int64(len(u.pieces)) {
		return "", false
	}
	return u.pieces[id], true
}

// latticeNode is the best path ending at one byte offset.
type latticeNode struct {
	score float64
	start int32 // where its last token starts; -1: not reached yet
	id    int32
}

func (u *unigram) appendIDs(ids []int64, word string) []int64 {
	n := len(word)
	if n == 0 {
		return ids
	}
	buf, _ := u.lattice.Get().(*[]latticeNode)
	if buf == nil {
		buf = new([]latticeNode)
	}
	best := slices.Grow((*buf)[:0], n+1)[:n+1]
	for i := range best {
		best[i] = latticeNode{start: -1}
	}
	best[0].score = 0
	for start := 0; start < n; {
		till := best[start].score
		_, mblen := utf8.DecodeRuneInString(word[start:])
		single := false
		u.trie.prefixes(word, start, func(end int, id int64) {
			cand := u.scores[id] + till
			if t := &best[end]; t.start < 0 || cand > t.score {
				*t = latticeNode{score: cand, start: int32(start), id: int32(id)}
			}
			if end-start == mblen {
				single = true
			}
		})
		if !single {
			cand := u.unkScore + till
			if t := &best[start+mblen]; t.start < 0 || cand > t.score {
				*t = latticeNode{score: cand, start: int32(start), id: int32(u.unkID)}
			}
		}
		start += mblen
	}
	// Walk back, then emit in order; runs of unknown nodes fuse.
	first := len(ids)
	for end := n; end > 0; {
		node := best[end]
		start := int(node.start)
		if int64(node.id) == u.unkID {
			for start > 0 && int64(best[start].id) == u.unkID {
				start = int(best[start].start)
			}
			ids = u.appendUnknown(ids, word[start:end])
		} else {
			ids = append(ids, int64(node.id))
		}
		end = start
	}
	*buf = best
	u.lattice.Put(buf)
	slices.Reverse(ids[first:])
	return ids
}

// appendUnknown appends the ids of a fused unknown token, in reverse order
// (the caller reverses the whole walk): its own id if the vocabulary has the
// text, else its bytes with byte fallback, else the unknown id.
func (u *unigram) appendUnknown(ids []int64, text string) []int64 {
	if id, ok := u.ids[text]; ok {
		return append(ids, id)
	}
	if u.byteFallback {
		ok := true
		for i := 0; i < len(text); i++ {
			ok = ok && u.byteIDs[text[i]] >= 0
		}
		if ok {
			for i := len(text) - 1; i >= 0; i-- {
				ids = append(ids, u.byteIDs[text[i]])
			}
			return ids
		}
	}
	return append(ids, u.unkID)
}

// pieceTrie is a byte trie over the vocabulary with each node's children
// sorted by label, laid out flat: prefix search without a map per node.
type pieceTrie struct {
	nodes    []trieNode
	labels   []byte
	children []int32
}

type trieNode struct {
	lo, hi int32 // the node's edges: labels[lo:hi], children[lo:hi]
	id     int64 // piece ending here, or -1
}

func newPieceTrie(pieces []string, ids map[string]int64) pieceTrie {
	keys := slices.Clone(pieces)
	slices.Sort(keys)
	t := pieceTrie{}
	var build func(keys []string, depth int) int32
	build = func(keys []string, depth int) int32 {
		self := int32(len(t.nodes))
		t.nodes = append(t.nodes, trieNode{id: -1})
		if len(keys) > 0 && len(keys[0]) == depth {
			t.nodes[self].id = ids[keys[0]]
			keys = keys[1:]
		}
		// Group by the byte at depth; keys are sorted, so groups are runs.
		var groups [][]string
		for i := 0; i < len(keys); {
			j := i + 1
			for j < len(keys) && keys[j][depth] == keys[i][depth] {
				j++
			}
			groups = append(groups, keys[i:j])
			i = j
		}
		lo := int32(len(t.labels))
		for _, g := range groups {
			t.labels = append(t.labels, g[0][depth])
			t.children = append(t.children, 0)
		}
		t.nodes[self].lo, t.nodes[self].hi = lo, lo+int32(len(groups))
		for i, g := range groups {
			t.children[lo+int32(i)] = build(g, depth+1)
		}
		return self
	}
	build(keys, 0)
	return t
}

// prefixes calls fn with the end offset and id of every piece that starts
// at s[start:], shortest first.
func (t *pieceTrie) prefixes(s string, start int, fn func(end int, id int64)) {
	n := int32(0)
	for i := start; i < len(s); i++ {
		nd := &t.nodes[n]
		lo, hi := nd.lo, nd.hi
		c := s[i]
		for lo < hi {
			mid := int32(uint32(lo+hi) >> 1)
			if t.labels[mid] < c {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		if lo == nd.hi || t.labels[lo] != c {
			return
		}
		n = t.children[lo]
		if id := t.nodes[n].id; id >= 0 {
			fn(i+1, id)
		}
	}
}
