package m2m100

import (
	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/seq2seq"
)

// job is one tokenized translation waiting for the model.
type job struct {
	src []int64 // [__src__] pieces… </s>
	tgt int64   // the target language token, forced after the decoder start
}

// startCohort runs the encoder over the batch and sets up its decoding.
func (m *Model) startCohort(jobs []job) (batch.Cohort[seq2seq.Hypothesis], error) {
	enc, err := m.encode(jobs)
	if err != nil {
		return nil, err
	}
	var state seq2seq.State = seq2seq.NewCachedState(m.dec, &m.ws, enc)
	if m.recompute {
		state = seq2seq.NewRecomputeState(m.dec, &m.ws, enc)
	}
	searches := make([]seq2seq.Searcher, len(jobs))
	for i, j := range jobs {
		searches[i] = seq2seq.NewSearcher(m.search, []int64{m.decoderStart, j.tgt})
	}
	return seq2seq.NewCohort(state, searches, &m.stats), nil
}

// encode pads the sources to the longest and runs the encoder once.
func (m *Model) encode(jobs []job) (seq2seq.EncoderRows, error) {
	seq := 0
	for _, j := range jobs {
		seq = max(seq, len(j.src))
	}
	rows := len(jobs)
	ids := make([]int64, rows*seq)
	mask := make([]int64, rows*seq)
	for r, j := range jobs {
		for c := range seq {
			ids[r*seq+c] = m.pad
		}
		copy(ids[r*seq:], j.src)
		for c := range j.src {
			mask[r*seq+c] = 1
		}
	}
	states := make([]float32, rows*seq*m.dec.DModel)
	b := seq2seq.NewBinding(m.enc)
	seq2seq.AddTensor(b, "input_ids", ids, int64(rows), int64(seq))
	seq2seq.AddTensor(b, "attention_mask", mask, int64(rows), int64(seq))
	b.Output("last_hidden_state", states, int64(rows), int64(seq), int64(m.dec.DModel))
	if err := b.Run(); err != nil {
		return seq2seq.EncoderRows{}, err
	}
	return seq2seq.EncoderRows{Seq: seq, Mask: mask, States: states}, nil
}
