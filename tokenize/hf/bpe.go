package hf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"unicode/utf8"
)

// bpe is the BPE model of Hugging Face tokenizers ("model": {"type": "BPE"}):
// a word starts as its characters (each looked up in vocab; an unknown one
// becomes its <0xAB> byte pieces under byte_fallback, else the unk token),
// then the adjacent pair with the lowest merge rank is merged, the leftmost
// one on a tie, until no pair has a merge. That is the order of tokenizers'
// Word::merge_all and of transformers.js's BPE, so ids match id for id.
//
// dropout is ignored: inference never samples merges (transformers.js
// ignores it too). continuing_subword_prefix and end_of_word_suffix must be
// empty: none of the byte-level and SentencePiece-converted files served
// here sets them.
type bpe struct {
	vocab        map[string]int32
	tokens       map[int32]string    // id → token, for decoding
	merges       map[uint64]bpeMerge // key: left id << 32 | right id
	unk          int32               // -1: no unk token (an unknown character is dropped)
	fuseUnk      bool
	byteFallback bool
	byteIDs      [256]int32 // id of "<0xAB>" per byte, -1 when absent
	ignoreMerges bool
	cache        *bpeCache
}

type bpeMerge struct {
	rank int32
	id   int32 // the merged token
}

func mergeKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

type bpeConfig struct {
	Type                    string           `json:"type"`
	Dropout                 *float64         `json:"dropout"`
	UnkToken                *string          `json:"unk_token"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	FuseUnk                 bool             `json:"fuse_unk"`
	ByteFallback            bool             `json:"byte_fallback"`
	IgnoreMerges            bool             `json:"ignore_merges"`
	Vocab                   map[string]int64 `json:"vocab"`
	Merges                  json.RawMessage  `json:"merges"`
}

// newBPE reads a tokenizer.json "model" section of type BPE. Merges may be
// written as "a b" strings (tokenizers before 0.20) or as ["a", "b"] pairs;
// each side and their concatenation must be in vocab, as tokenizers checks.
func newBPE(raw json.RawMessage) (model, error) {
	var c bpeConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("BPE model: %w", err)
	}
	if c.Type != "" && c.Type != "BPE" {
		return nil, fmt.Errorf("BPE model: type is %q", c.Type)
	}
	if c.ContinuingSubwordPrefix != nil && *c.ContinuingSubwordPrefix != "" {
		return nil, fmt.Errorf("BPE model: continuing_subword_prefix %q is not supported", *c.ContinuingSubwordPrefix)
	}
	if c.EndOfWordSuffix != nil && *c.EndOfWordSuffix != "" {
		return nil, fmt.Errorf("BPE model: end_of_word_suffix %q is not supported", *c.EndOfWordSuffix)
	}
	if len(c.Vocab) == 0 {
		return nil, errors.New("BPE model: empty vocab")
	}
	m := &bpe{
		vocab:        make(map[string]int32, len(c.Vocab)),
		tokens:       make(map[int32]string, len(c.Vocab)),
		unk:          -1,
		fuseUnk:      c.FuseUnk,
		byteFallback: c.ByteFallback,
		ignoreMerges: c.IgnoreMerges,
		cache:        newBPECache(),
	}
	for tok, id := range c.Vocab {
		if id < 0 || id > math.MaxInt32 {
			return nil, fmt.Errorf("BPE model: token %q has id %d", tok, id)
		}
		m.vocab[tok] = int32(id)
		m.tokens[int32(id)] = tok
	}
	if c.UnkToken != nil {
		id, ok := m.vocab[*c.UnkToken]
		if !ok {
			return nil, fmt.Errorf("BPE model: unk_token %q is not in vocab", *c.UnkToken)
		}
		m.unk = id
	}
	for b := range 256 {
		m.byteIDs[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	pairs, err := parseMerges(c.Merges)
	if err != nil {
		return nil, fmt.Errorf("BPE model: %w", err)
	}
	m.merges = make(map[uint64]bpeMerge, len(pairs))
	for rank, p := range pairs {
		a, okA := m.vocab[p[0]]
		b, okB := m.vocab[p[1]]
		id, okAB := m.vocab[p[0]+p[1]]
		switch {
		case !okA:
			return nil, fmt.Errorf("BPE model: merge %d: %q is not in vocab", rank, p[0])
		case !okB:
			return nil, fmt.Errorf("BPE model: merge %d: %q is not in vocab", rank, p[1])
		case !okAB:
			return nil, fmt.Errorf("BPE model: merge %d: %q is not in vocab", rank, p[0]+p[1])
		case rank > math.MaxInt32:
			return nil, errors.New("BPE model: too many merges")
		}
		// A repeated pair keeps its last rank, as tokenizers' HashMap
		// collect and transformers.js's Map do.
		m.merges[mergeKey(a, b)] = bpeMerge{rank: int32(rank), id: id}
	}
	return m, nil
}

// parseMerges reads the merges list in either format.
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	if trimmed[0] != '[' {
		return nil, errors.New("merges is not a list")
	}
	rest := bytes.TrimSpace(trimmed[1:])
	if len(rest) > 0 && rest[0] == '"' {
		var lines []string
		if err := json.Unmarshal(raw, &lines); err != nil {
			return nil, fmt.Errorf("merges: %w", err)
		}
		out := make([][2]string, len(lines))
		for i, l := range lines {
			a, b, ok := strings.Cut(l, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, fmt.Errorf("merge %d (%q) is not two tokens separated by one space", i, l)
			}
			out[i] = [2]string{a, b}
		}
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("merges: %w", err)
	}
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("merge %d has %d tokens, want 2", i, len(p))
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

func (m *bpe) tokenID(token string) (int64, bool) {
	id, ok := m.vocab[token]
	return int64(id), ok
}

func (m *bpe) idToken(id int64) (string, bool) {
	if id < 0 || id > math.MaxInt32 {
		return "", false
	}
	t, ok := m.tokens[int32(id)]
	return t, ok
}

// Words of at most bpeLinearMax symbols are merged by scanning the cached
// pair ranks (the common case: one pre-token); longer ones (SentencePiece
// files whose pre-token is a whole line) through a heap.
const bpeLinearMax = 48

// bpeScratch is one encoding's working memory.
type bpeScratch struct {
	id   []int32
	prev []int32
	next []int32
	rank []int32 // rank of the pair (i, next[i]); noMerge when none
	heap bpeHeap
	out  []int32
}

const noMerge = math.MaxInt32

var bpeScratchPool = sync.Pool{New: func() any { return new(bpeScratch) }}

func (m *bpe) appendIDs(ids []int64, word string) []int64 {
	if word == "" {
		return ids
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[word]; ok {
			return append(ids, int64(id))
		}
	}
	cacheable := len(word) < bpeCacheMaxLen
	if cacheable {
		if hit, ok := m.cache.get(word); ok {
			for _, id := range hit {
				ids = append(ids, int64(id))
			}
			return ids
		}
	}
	sc := bpeScratchPool.Get().(*bpeScratch)
	out := m.encodeWord(sc, word, bpeLinearMax)
	for _, id := range out {
		ids = append(ids, int64(id))
	}
	if cacheable {
		m.cache.put(word, out)
	}
	bpeScratchPool.Put(sc)
	return ids
}

// encodeWord returns word's ids (in sc's memory), merging words of up to
// linearMax symbols by scanning and longer ones through the heap.
func (m *bpe) encodeWord(sc *bpeScratch, word string, linearMax int) []int32 {
	sc.id = sc.id[:0]
	lastUnk := false
	for i := 0; i < len(word); {
		_, w := utf8.DecodeRuneInString(word[i:])
		ch := word[i : i+w]
		i += w
		if id, ok := m.vocab[ch]; ok {
			sc.id = append(sc.id, id)
			lastUnk = false
			continue
		}
		if m.byteFallback {
			all := true
			for j := range len(ch) {
				if m.byteIDs[ch[j]] < 0 {
					all = false
					break
				}
			}
			if all {
				for j := range len(ch) {
					sc.id = append(sc.id, m.byteIDs[ch[j]])
				}
				lastUnk = false
				continue
			}
		}
		if m.unk >= 0 && !(m.fuseUnk && lastUnk) {
			sc.id = append(sc.id, m.unk)
			lastUnk = true
		}
	}
	n := len(sc.id)
	if n > 1 {
		sc.prev = grow(sc.prev, n)
		sc.next = grow(sc.next, n)
		sc.rank = grow(sc.rank, n)
		for i := range n {
			sc.prev[i] = int32(i - 1)
			sc.next[i] = int32(i + 1)
		}
		sc.next[n-1] = -1
		if n <= linearMax {
			m.mergeLinear(sc, n)
		} else {
			m.mergeHeap(sc, n)
		}
	}
	if n <= 1 {
		return sc.id
	}
	sc.out = sc.out[:0]
	for i := int32(0); i >= 0; i = sc.next[i] {
		sc.out = append(sc.out, sc.id[i])
	}
	return sc.out
}

func grow(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// pairRank is the rank of merging symbol i with its successor.
func (m *bpe) pairRank(sc *bpeScratch, i int32) int32 {
	j := sc.next[i]
	if j < 0 {
		return noMerge
	}
	if mg, ok := m.merges[mergeKey(sc.id[i], sc.id[j])]; ok {
		return mg.rank
	}
	return noMerge
}

// merge joins symbol i and its successor into the token id.
func (sc *bpeScratch) merge(i, id int32) {
	j := sc.next[i]
	sc.id[i] = id
	sc.next[i] = sc.next[j]
	if k := sc.next[j]; k >= 0 {
		sc.prev[k] = i
	}
	sc.next[j] = -2 // dead
}

func (m *bpe) mergeLinear(sc *bpeScratch, n int) {
	for i := range int32(n) {
		sc.rank[i] = m.pairRank(sc, i)
	}
	for {
		best, at := int32(noMerge), int32(-1)
		for i := int32(0); i >= 0; i = sc.next[i] {
			if sc.rank[i] < best { // strict: the leftmost of equal ranks
				best, at = sc.rank[i], i
			}
		}
		if at < 0 {
			return
		}
		j := sc.next[at]
		sc.merge(at, m.merges[mergeKey(sc.id[at], sc.id[j])].id)
		sc.rank[at] = m.pairRank(sc, at)
		if p := sc.prev[at]; p >= 0 {
			sc.rank[p] = m.pairRank(sc, p)
		}
	}
}

// mergeHeap is tokenizers' priority-queue merge: entries ordered by (rank,
// position of the left symbol); a popped entry whose symbols changed since
// it was pushed is skipped.
func (m *bpe) mergeHeap(sc *bpeScratch, n int) {
	h := &sc.heap
	*h = (*h)[:0]
	for i := range int32(n - 1) {
		if mg, ok := m.merges[mergeKey(sc.id[i], sc.id[i+1])]; ok {
			h.push(bpeEntry{rank: mg.rank, pos: i, id: mg.id})
		}
	}
	for len(*h) > 0 {
		e := h.pop()
		j := sc.next[e.pos]
		if j < 0 { // dead (-2) or last (-1)
			continue
		}
		if mg, ok := m.merges[mergeKey(sc.id[e.pos], sc.id[j])]; !ok || mg.id != e.id {
			continue
		}
		sc.merge(e.pos, e.id)
		if p := sc.prev[e.pos]; p >= 0 {
			if mg, ok := m.merges[mergeKey(sc.id[p], sc.id[e.pos])]; ok {
				h.push(bpeEntry{rank: mg.rank, pos: p, id: mg.id})
			}
		}
		if k := sc.next[e.pos]; k >= 0 {
			if mg, ok := m.merges[mergeKey(sc.id[e.pos], sc.id[k])]; ok {
				h.push(bpeEntry{rank: mg.rank, pos: e.pos, id: mg.id})
			}
		}
	}
}

type bpeEntry struct{ rank, pos, id int32 }

func (a bpeEntry) less(b bpeEntry) bool {
	return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos
}

// bpeHeap is a binary min-heap of merge candidates.
type bpeHeap []bpeEntry

func (h *bpeHeap) push(e bpeEntry) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *bpeHeap) pop() bpeEntry {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, min := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].less(s[min]) {
			min = l
		}
		if r < len(s) && s[r].less(s[min]) {
			min = r
		}
		if min == i {
			break
		}
		s[i], s[min] = s[min], s[i]
		i = min
	}
	*h = s
	return top
}

// The word cache: words shorter than bpeCacheMaxLen bytes (tokenizers'
// and transformers.js's limit), up to bpeCacheSize entries; once full it
// keeps what it has, as tokenizers' cache does. Sharded so concurrent
// encoders rarely wait on one another.
const (
	bpeCacheMaxLen = 256
	bpeCacheSize   = 1 << 16
	bpeCacheShards = 32
)

type bpeCache struct {
	seed   maphash.Seed
	shards [bpeCacheShards]bpeCacheShard
}

type bpeCacheShard struct {
	mu sync.RWMutex
	m  map[string][]int32
}

func newBPECache() *bpeCache {
	c := &bpeCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[string][]int32{}
	}
	return c
}

func (c *bpeCache) shard(word string) *bpeCacheShard {
	return &c.shards[maphash.String(c.seed, word)%bpeCacheShards]
}

func (c *bpeCache) get(word string) ([]int32, bool) {
	s := c.shard(word)
	s.mu.RLock()
	ids, ok := s.m[word]
	s.mu.RUnlock()
	return ids, ok
}

// put stores a copy of ids.
func (c *bpeCache) put(word string, ids []int32) {
	s := c.shard(word)
	s.mu.Lock()
	if len(s.m) < bpeCacheSize/bpeCacheShards {
		s.m[strings.Clone(word)] = append([]int32(nil), ids...)
	}
	s.mu.Unlock()
}
