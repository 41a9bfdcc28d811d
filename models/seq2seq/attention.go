package seq2seq

import "slices"

// Head names one cross-attention head: a decoder layer and a head in it
// (Whisper's alignment_heads).
type Head struct{ Layer, Head int }

// attentionLog records the cross-attention weights of chosen heads per
// row and decoded position; rows follow Keep like the cache does.
type attentionLog struct {
	heads []Head
	// rows[r][t] is position t of row r: len(heads) × encoder seq weights.
	// Entries are never written after they are recorded, so rows may share
	// them after a reorder.
	rows [][][]float32
}

// Capture implements State.
func (a *attentionLog) Capture(heads []Head) { a.heads = slices.Clone(heads) }

// CrossAttention implements State.
func (a *attentionLog) CrossAttention(row int) [][]float32 {
	if row < 0 || row >= len(a.rows) {
		return nil
	}
	return a.rows[row]
}

// layers returns which layers' weights are read.
func (a *attentionLog) layers() map[int]bool {
	used := map[int]bool{}
	for _, h := range a.heads {
		used[h.Layer] = true
	}
	return used
}

// bindAttention binds the cross-attention outputs of the layers captured.
func (a *attentionLog) bindAttention(b *Binding, ws *Workspace, d *Decoder, rows, steps, enc int) {
	if len(a.heads) == 0 || !d.CrossAttentions {
		return
	}
	n := rows * d.Heads * steps * enc
	for l := range a.layers() {
		b.Output(CrossAttentionName(l), ws.attentionBuf(l, n), int64(rows), int64(d.Heads), int64(steps), int64(enc))
	}
}

// record appends (or, with replace, sets) each row's positions from the
// weights of the last run.
func (a *attentionLog) record(ws *Workspace, d *Decoder, rows, steps, enc int, replace bool) {
	if len(a.heads) == 0 || !d.CrossAttentions {
		return
	}
	if replace || a.rows == nil {
		a.rows = make([][][]float32, rows)
	}
	for r := range rows {
		for t := range steps {
			pos := make([]float32, len(a.heads)*enc)
			for i, h := range a.heads {
				off := ((r*d.Heads+h.Head)*steps + t) * enc
				copy(pos[i*enc:(i+1)*enc], ws.attention[h.Layer][off:off+enc])
			}
			a.rows[r] = append(a.rows[r], pos)
		}
	}
}

// keepAttention makes row i continue row src[i]'s record.
func (a *attentionLog) keepAttention(src []int) {
	if a.rows == nil {
		return
	}
	kept := make([][][]float32, len(src))
	for i, r := range src {
		kept[i] = slices.Clip(a.rows[r]) // an append copies: rows never write into each other
	}
	a.rows = kept
}
