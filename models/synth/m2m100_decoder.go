package synth

import (
	"fmt"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// m2m100Cache names one decoder layer's key/value tensors, in the order
// decoder.key, decoder.value, encoder.key, encoder.value.
type m2m100Cache [4]string

func m2m100CacheNames(prefix string, layer int) m2m100Cache {
	var c m2m100Cache
	for j, part := range []string{"decoder.key", "decoder.value", "encoder.key", "encoder.value"} {
		c[j] = fmt.Sprintf("%s.%d.%s", prefix, layer, part)
	}
	return c
}

// m2m100DecoderIO is what one decoder computation reads and how it names
// its results.
type m2m100DecoderIO struct {
	ids, encoderMask, encoderStates string
	// past holds each layer's past_key_values inputs; nil for the first
	// step, which computes the cross-attention keys from encoderStates.
	past []m2m100Cache
	// logits and present name the results. With a past, the encoder
	// presents are emitted (as copies of the past) only if presentEncoder
	// is set: decoder_with_past has none, the merged decoder's cache branch
	// must match its other branch.
	logits         string
	present        []m2m100Cache
	presentEncoder bool
}

// decoder emits the decoder stack and LM head; it returns the logits and
// the present key/values per layer.
func (b *m2m100Builder) decoder(io m2m100DecoderIO) (logits string, present []m2m100Cache) {
	d := b.w.d
	g := b.g
	pastLen := g.ScalarInt(0)
	if io.past != nil {
		pastLen = g.Op("Gather", []string{g.Op("Shape", []string{io.past[0][0]}), g.ScalarInt(2)})
	}
	h := b.embed(io.ids, pastLen, "decoder")
	selfMask := b.causalMask(io.ids, pastLen)
	crossMask := b.paddingMask(io.encoderMask)

	present = make([]m2m100Cache, d.DecoderLayers)
	for i := range d.DecoderLayers {
		prefix := fmt.Sprintf("model.decoder.layers.%d", i)
		out := io.present[i]

		x := b.layerNorm(h, prefix+".self_attn_layer_norm", "")
		q := b.query(x, prefix+".self_attn")
		var k, v string
		if io.past == nil {
			k, v = b.keyValue(x, prefix+".self_attn", out[0], out[1])
		} else {
			newK, newV := b.keyValue(x, prefix+".self_attn", "", "")
			k = b.named(out[0], "Concat", []string{io.past[i][0], newK}, onnxgraph.AttrInt("axis", 2))
			v = b.named(out[1], "Concat", []string{io.past[i][1], newV}, onnxgraph.AttrInt("axis", 2))
		}
		h = g.Op("Add", []string{h, b.attnOut(b.attend(q, k, v, selfMask), prefix+".self_attn")})

		x = b.layerNorm(h, prefix+".encoder_attn_layer_norm", "")
		q = b.query(x, prefix+".encoder_attn")
		var ck, cv string
		switch {
		case io.past == nil:
			ck, cv = b.keyValue(io.encoderStates, prefix+".encoder_attn", out[2], out[3])
		case io.presentEncoder:
			// The cache branch hands the encoder keys through unchanged.
			ck = b.named(out[2], "Identity", []string{io.past[i][2]})
			cv = b.named(out[3], "Identity", []string{io.past[i][3]})
		default:
			ck, cv = io.past[i][2], io.past[i][3]
		}
		h = g.Op("Add", []string{h, b.attnOut(b.attend(q, ck, cv, crossMask), prefix+".encoder_attn")})

		h = b.ffn(h, prefix, d.FFN)
		present[i] = m2m100Cache{k, v, ck, cv}
	}
	h = b.layerNorm(h, "model.decoder.layer_norm", "")
	return b.lmHead(h, io.logits), present
}

// m2m100DecoderKind selects one of optimum's three decoder files.
type m2m100DecoderKind int

const (
	m2m100DecoderFirst  m2m100DecoderKind = iota // decoder_model.onnx
	m2m100DecoderPast                            // decoder_with_past_model.onnx
	m2m100DecoderMerged                          // decoder_model_merged.onnx
)

// buildM2M100Decoder builds one decoder file with the interface of
// docs/model-files.md §3.4–3.6, in int8 when quantized.
func buildM2M100Decoder(w *m2m100Weights, kind m2m100DecoderKind, quantized bool) *onnxgraph.Model {
	d := w.d
	g := onnxgraph.NewGraph("m2m100_decoder")
	batch := onnxgraph.Dynamic("batch_size")
	encSeq := onnxgraph.Dynamic("encoder_sequence_length")
	decSeq := onnxgraph.Dynamic("decoder_sequence_length")
	heads, headDim := onnxgraph.Fixed(int64(d.Heads)), onnxgraph.Fixed(int64(d.HeadDim()))
	// optimum's axis names: decoder_model's presents span the decoder
	// sequence, the with-past model's the past plus one step, and the
	// merged model's either, so it is named for both.
	presentSeq := map[m2m100DecoderKind]onnxgraph.Dim{
		m2m100DecoderFirst:  decSeq,
		m2m100DecoderPast:   onnxgraph.Dynamic("past_decoder_sequence_length + 1"),
		m2m100DecoderMerged: onnxgraph.Dynamic("past_decoder_sequence_length + decoder_sequence_length"),
	}[kind]
	encOut := onnxgraph.Dynamic("encoder_sequence_length_out")
	steps := decSeq
	if kind == m2m100DecoderPast {
		steps = onnxgraph.Fixed(1)
	}

	io := m2m100DecoderIO{
		encoderMask: g.Input("encoder_attention_mask", onnxgraph.Int64, batch, encSeq),
		ids:         g.Input("input_ids", onnxgraph.Int64, batch, steps),
		logits:      "logits",
	}
	if kind != m2m100DecoderPast {
		io.encoderStates = g.Input("encoder_hidden_states", onnxgraph.Float, batch, encSeq, onnxgraph.Fixed(int64(d.DModel)))
	}
	if kind != m2m100DecoderFirst {
		pastSeq := onnxgraph.Dynamic("past_decoder_sequence_length")
		for i := range d.DecoderLayers {
			c := m2m100CacheNames("past_key_values", i)
			for j, name := range c {
				seq := pastSeq
				if j >= 2 {
					seq = encOut
				}
				g.Input(name, onnxgraph.Float, batch, heads, seq, headDim)
			}
			io.past = append(io.past, c)
		}
	}
	for i := range d.DecoderLayers {
		io.present = append(io.present, m2m100CacheNames("present", i))
	}
	io.presentEncoder = kind != m2m100DecoderPast

	b := newM2M100Builder(g, w, quantized)
	if kind == m2m100DecoderMerged {
		b.mergedDecoder(io, g.Input("use_cache_branch", onnxgraph.Bool, onnxgraph.Fixed(1)))
	} else {
		b.decoder(io)
	}

	g.Output("logits", onnxgraph.Float, batch, steps, onnxgraph.Fixed(int64(d.Vocab)))
	for i := range d.DecoderLayers {
		c := m2m100CacheNames("present", i)
		g.Output(c[0], onnxgraph.Float, batch, heads, presentSeq, headDim)
		g.Output(c[1], onnxgraph.Float, batch, heads, presentSeq, headDim)
		if io.presentEncoder {
			g.Output(c[2], onnxgraph.Float, batch, heads, encOut, headDim)
			g.Output(c[3], onnxgraph.Float, batch, heads, encOut, headDim)
		}
	}
	return m2m100Model(g)
}

// mergedDecoder emits optimum's merged decoder: an If on use_cache_branch
// whose then branch is the with-past decoder and else branch the first-step
// decoder, both producing logits and every present tensor; the weights
// live once in the main graph.
func (b *m2m100Builder) mergedDecoder(io m2m100DecoderIO, useCache string) {
	branch := func(name string, withPast bool) *onnxgraph.Graph {
		bb := b.branch(name)
		bio := io
		if !withPast {
			bio.past = nil
		}
		bio.logits = bb.g.Fresh(name + "_logits")
		bio.present = make([]m2m100Cache, len(io.present))
		for i, c := range io.present {
			for j, n := range c {
				bio.present[i][j] = bb.g.Fresh(name + "_" + n)
			}
		}
		logits, present := bb.decoder(bio)
		bb.g.OutputUnshaped(logits, onnxgraph.Float)
		for _, c := range present {
			for _, n := range c {
				bb.g.OutputUnshaped(n, onnxgraph.Float)
			}
		}
		return bb.g
	}
	thenG := branch("with_past", true)
	elseG := branch("first_step", false)
	outs := []string{io.logits}
	for _, c := range io.present {
		outs = append(outs, c[:]...)
	}
	b.g.Node("If", []string{useCache}, outs,
		onnxgraph.AttrGraph("then_branch", thenG), onnxgraph.AttrGraph("else_branch", elseG))
}
