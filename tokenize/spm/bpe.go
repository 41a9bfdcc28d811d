package spm

import (
	"container/heap"
	"unicode/utf8"

	"github.com/edgeinfer/edgeinfer/tokenize/spm/spmpb"
)

// symbol is one segment of the normalized text while merging: a byte range,
// linked to its live neighbours.
type symbol struct {
	start, end int
	prev, next int  // neighbouring symbols, -1 at the ends
	frozen     bool // a user-defined piece: never merged
}

// candidate is a possible merge of two adjacent symbols.
type candidate struct {
	left, right int
	score       float32
	size        int // byte length of the merged piece, to detect stale entries
}

// agenda orders candidates as SentencePiece's SymbolPairComparator does:
// highest score first, then leftmost.
type agenda []candidate

func (a agenda) Len() int { return len(a) }
func (a agenda) Less(i, j int) bool {
	if a[i].score != a[j].score {
		return a[i].score > a[j].score
	}
	return a[i].left < a[j].left
}
func (a agenda) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *agenda) Push(x any)   { *a = append(*a, x.(candidate)) }
func (a *agenda) Pop() any {
	old := *a
	c := old[len(old)-1]
	*a = old[:len(old)-1]
	return c
}

// bpe segments normalized text (bpe_model.cc Model::Encode): start from
// characters (user-defined pieces whole), repeatedly merge the adjacent
// pair whose union is the best-scoring piece, then split any unused piece
// back into the pieces it was merged from.
func (p *Processor) bpe(text string) []string {
	if text == "" {
		return nil
	}
	var syms []symbol
	for pos := 0; pos < len(text); {
		n := p.userDefined.match(text[pos:])
		frozen := n > 0
		if !frozen {
			_, n = utf8.DecodeRuneInString(text[pos:])
		}
		syms = append(syms, symbol{start: pos, end: pos + n, prev: len(syms) - 1, next: len(syms) + 1, frozen: frozen})
		pos += n
	}
	syms[len(syms)-1].next = -1

	// unusedParts remembers how an unused piece was formed, to resegment it.
	var unusedParts map[string][2]string
	var queue agenda
	consider := func(left, right int) {
		if left < 0 || right < 0 || syms[left].frozen || syms[right].frozen {
			return
		}
		merged := text[syms[left].start:syms[right].end]
		id, ok := p.mergeable[merged]
		if !ok {
			return
		}
		heap.Push(&queue, candidate{left: left, right: right, score: p.pieces[id].score, size: len(merged)})
		if p.pieces[id].typ == spmpb.ModelProto_SentencePiece_UNUSED {
			if unusedParts == nil {
				unusedParts = map[string][2]string{}
			}
			unusedParts[merged] = [2]string{text[syms[left].start:syms[left].end], text[syms[right].start:syms[right].end]}
		}
	}
	for i := 1; i < len(syms); i++ {
		consider(i-1, i)
	}
	for queue.Len() > 0 {
		c := heap.Pop(&queue).(candidate)
		l, r := &syms[c.left], &syms[c.right]
		// Skip entries made stale by an earlier merge of either side.
		if l.start == l.end || r.start == r.end || (l.end-l.start)+(r.end-r.start) != c.size {
			continue
		}
		l.end = r.end
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = c.left
		}
		r.start, r.end = 0, 0
		consider(l.prev, c.left)
		consider(c.left, l.next)
	}

	var out []string
	var resegment func(w string)
	resegment = func(w string) {
		if id, ok := p.mergeable[w]; ok && p.pieces[id].typ == spmpb.ModelProto_SentencePiece_UNUSED {
			if parts, ok := unusedParts[w]; ok {
				resegment(parts[0])
				resegment(parts[1])
				return
			}
		}
		out = append(out, w)
	}
	for i := 0; i >= 0; i = syms[i].next {
		resegment(text[syms[i].start:syms[i].end])
	}
	return out
}
