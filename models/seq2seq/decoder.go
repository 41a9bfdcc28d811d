// Package seq2seq runs the decoder of an encoder–decoder model exported by
// optimum (M2M100, Whisper) on ONNX Runtime: the merged decoder or the
// decoder_model + decoder_with_past pair, the key/value cache kept across
// steps and regrouped as rows finish or beams reorder, a recomputing
// decoder to check the cache against, optional capture of the
// cross-attention weights, greedy and beam search, a cohort that steps
// the requests of one encoder batch together under an engine/batch Stepper,
// and Groups, in which cohorts that have decoded equally many tokens join.
// The family packages keep their tokenizers, prompts and logits rules.
package seq2seq

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/edgeinfer/edgeinfer/models/ort"
)

// Decoder is a model's decoder sessions: optimum's merged decoder (one
// file, use_cache_branch picks the first step or a cached step), or the
// pair decoder_model (first step) + decoder_with_past_model (cached
// steps). Exactly one of Merged or First+WithPast is set for cached
// decoding; recomputation needs First or Merged.
type Decoder struct {
	Merged, First, WithPast *ort.Session

	// Vocab and DModel come from the model's config; Inspect fills the
	// rest from the sessions.
	Vocab, DModel          int
	Layers, Heads, HeadDim int
	// CrossAttentions reports that the decoder outputs cross_attentions.N
	// [batch, heads, tgt, encoder seq] (the timestamped Whisper exports).
	CrossAttentions bool
}

var presentName = regexp.MustCompile(`^present\.(\d+)\.decoder\.key$`)

// Inspect reads the cache layout from the sessions' declared outputs:
// layers from the present.N names, heads and head size from their fixed
// axes [batch, heads, seq, head_dim]. Each session must declare logits and
// the inputs named.
func (d *Decoder) Inspect(inputs ...string) error {
	s := d.Merged
	if s == nil {
		s = d.First
	}
	for _, out := range s.Outputs() {
		m := presentName.FindStringSubmatch(out.Name)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		d.Layers = max(d.Layers, i+1)
		if len(out.Shape) != 4 || out.Shape[1] <= 0 || out.Shape[3] <= 0 {
			return fmt.Errorf("%s: %s has shape %v, want [batch, heads, seq, head_dim] with fixed heads and head_dim", s.Path(), out.Name, out.Shape)
		}
		d.Heads, d.HeadDim = int(out.Shape[1]), int(out.Shape[3])
	}
	if d.Layers == 0 {
		return fmt.Errorf("%s declares no present.N.decoder.key outputs", s.Path())
	}
	d.CrossAttentions = true
	for _, sess := range d.Sessions() {
		if i := sess.OutputIndex("logits"); i < 0 {
			return fmt.Errorf("%s declares no logits output", sess.Path())
		} else if v := sess.Outputs()[i].Shape; len(v) == 3 && v[2] > 0 && int(v[2]) != d.Vocab {
			return fmt.Errorf("%s: logits have %d entries, config.json says vocab_size %d", sess.Path(), v[2], d.Vocab)
		}
		for _, in := range inputs {
			if sess.InputIndex(in) < 0 {
				return fmt.Errorf("%s declares no %s input", sess.Path(), in)
			}
		}
		for l := range d.Layers {
			if sess.OutputIndex(CrossAttentionName(l)) < 0 {
				d.CrossAttentions = false
			}
		}
	}
	return nil
}

// Sessions are the sessions opened, in the order merged, first, with past.
func (d *Decoder) Sessions() []*ort.Session {
	var out []*ort.Session
	for _, s := range []*ort.Session{d.Merged, d.First, d.WithPast} {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// Close releases the sessions.
func (d *Decoder) Close() {
	for _, s := range d.Sessions() {
		s.Close()
	}
}

// cacheName names a key/value tensor: prefix "past_key_values" or
// "present", layer i, kind 0..3 = decoder.key, decoder.value, encoder.key,
// encoder.value.
func cacheName(prefix string, layer, kind int) string {
	return prefix + "." + strconv.Itoa(layer) + "." + [4]string{"decoder.key", "decoder.value", "encoder.key", "encoder.value"}[kind]
}

// CrossAttentionName names layer's cross-attention weights output.
func CrossAttentionName(layer int) string { return "cross_attentions." + strconv.Itoa(layer) }
