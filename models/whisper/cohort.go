package whisper

import (
	"fmt"

	"github.com/edgeinfer/edgeinfer/engine/batch"
	"github.com/edgeinfer/edgeinfer/models/seq2seq"
)

// startCohort runs the encoder over the batch's windows, detects the
// language where a job asks, and starts the decoding: jobs whose prompts
// have one length decode in one cohort (the exports take no decoder
// attention mask), the cohorts step as one seq2seq.Groups, which the
// running Groups takes over (batch.Merger) so that cohorts of equal
// length join.
func (m *Model) startCohort(jobs []*windowJob) (batch.Cohort[windowResult], error) {
	enc, err := m.encode(jobs)
	if err != nil {
		return nil, err
	}
	detected, err := m.detectLanguages(jobs, enc)
	if err != nil {
		return nil, err
	}
	type groupKey struct {
		align bool
		n     int
	}
	groups := map[groupKey][]int{}
	var order []groupKey
	for i, j := range jobs {
		k := groupKey{j.align, len(j.prompt)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var parts []batch.Cohort[windowResult]
	var indices [][]int
	for _, k := range order {
		idx := groups[k]
		rows := enc.Select(idx, m.dec.DModel)
		var state seq2seq.State = seq2seq.NewCachedState(m.dec, &m.ws, rows)
		if m.recompute {
			state = seq2seq.NewRecomputeState(m.dec, &m.ws, rows)
		}
		members := make([]seq2seq.Member[windowResult], len(idx))
		if k.align {
			state.Capture(m.alignmentHeads)
			for r, i := range idx {
				members[r] = &alignPass{job: jobs[i], state: state, row: r, eot: m.vocab.eot}
			}
		} else {
			searches := make([]*windowSearch, len(idx))
			for r, i := range idx {
				searches[r] = newWindowSearch(jobs[i], m.vocab.eot)
				searches[r].res.language, searches[r].res.languageProb = detected[i].code, detected[i].prob
				members[r] = searches[r]
			}
			state = &noSpeechState{State: state, members: searches, noSpeech: m.vocab.noSpeech}
		}
		parts = append(parts, seq2seq.NewCohort(state, members, &m.stats))
		indices = append(indices, idx)
	}
	return seq2seq.NewGroups(parts, indices), nil
}

// encode returns the jobs' encoder rows, running the encoder once over the
// windows no earlier job encoded.
func (m *Model) encode(jobs []*windowJob) (seq2seq.EncoderRows, error) {
	width, stride := m.mels*m.frames, m.positions*m.dec.DModel
	var fresh []*audioWindow // a request has one job of a window queued at a time
	for _, j := range jobs {
		w := j.window
		if w.states != nil {
			continue
		}
		if len(w.features) != width {
			return seq2seq.EncoderRows{}, fmt.Errorf("whisper: a window has %d features, want %d", len(w.features), width)
		}
		fresh = append(fresh, w)
	}
	var states []float32
	if len(fresh) > 0 {
		features := make([]float32, 0, len(fresh)*width)
		for _, w := range fresh {
			features = append(features, w.features...)
		}
		states = make([]float32, len(fresh)*stride)
		b := seq2seq.NewBinding(m.enc)
		seq2seq.AddTensor(b, "input_features", features, int64(len(fresh)), int64(m.mels), int64(m.frames))
		b.Output("last_hidden_state", states, int64(len(fresh)), int64(m.positions), int64(m.dec.DModel))
		if err := b.Run(); err != nil {
			return seq2seq.EncoderRows{}, err
		}
		m.encoded.Add(int64(len(fresh)))
		for i, w := range fresh {
			w.states, w.features = states[i*stride:(i+1)*stride:(i+1)*stride], nil
		}
	}
	if len(fresh) < len(jobs) {
		// Some windows were encoded before: the rows in job order.
		states = make([]float32, 0, len(jobs)*stride)
		for _, j := range jobs {
			states = append(states, j.window.states...)
		}
	}
	return seq2seq.EncoderRows{Seq: m.positions, States: states}, nil
}

// detection is a detected language and its probability.
type detection struct {
	code string
	prob float64
}

// detectLanguages is openai-whisper's detect_language for the jobs that
// ask: one decoder step from <|startoftranscript|>, the likeliest language
// token, and its probability among the language tokens. The job's prompt
// gets the language token.
func (m *Model) detectLanguages(jobs []*windowJob, enc seq2seq.EncoderRows) ([]detection, error) {
	out := make([]detection, len(jobs))
	var idx []int
	for i, j := range jobs {
		if j.detect {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return out, nil
	}
	seqs := make([][]int64, len(idx))
	for r := range seqs {
		seqs[r] = []int64{m.vocab.sot}
	}
	logits, err := seq2seq.NewCachedState(m.dec, &m.ws, enc.Select(idx, m.dec.DModel)).Next(seqs)
	if err != nil {
		return nil, err
	}
	for r, i := range idx {
		lang, prob := m.vocab.pickLanguage(logits[r])
		out[i] = detection{code: lang.code, prob: prob}
		jobs[i].prompt[jobs[i].langPos] = lang.id
	}
	return out, nil
}

// pickLanguage returns the likeliest language token of a row of logits
// and its softmax probability over the language tokens alone.
func (v *specialTokens) pickLanguage(row []float32) (languageToken, float64) {
	vals := make([]float32, 0, len(v.languages))
	best := 0
	for k, l := range v.languages {
		x := float32(negInf)
		if int(l.id) < len(row) {
			x = row[l.id]
		}
		vals = append(vals, x)
		if x > vals[best] {
			best = k
		}
	}
	return v.languages[best], softmaxAt(vals, int64(best))
}
