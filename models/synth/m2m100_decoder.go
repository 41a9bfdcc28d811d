package synth

import "github.com/edgeinfer/edgeinfer/models/onnxgraph"

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

	encoderMask := g.Input("encoder_attention_mask", onnxgraph.Int64, batch, encSeq)
	io := encDecDecoderIO{
		family: decoderFamily{
			embed: func(b *encDecBuilder, ids, pastLen string) string {
				return m2m100Embed(b, w, ids, pastLen, "decoder")
			},
			crossMask: func(b *encDecBuilder) string { return b.paddingMask(encoderMask) },
			tokens:    w.shared(),
		},
		ids:    g.Input("input_ids", onnxgraph.Int64, batch, steps),
		logits: "logits",
	}
	if kind != m2m100DecoderPast {
		io.encoderStates = g.Input("encoder_hidden_states", onnxgraph.Float, batch, encSeq, onnxgraph.Fixed(int64(d.DModel)))
	}
	if kind != m2m100DecoderFirst {
		pastSeq := onnxgraph.Dynamic("past_decoder_sequence_length")
		for i := range d.DecoderLayers {
			c := encDecCacheNames("past_key_values", i)
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
		io.present = append(io.present, encDecCacheNames("present", i))
	}
	io.presentEncoder = kind != m2m100DecoderPast

	b := newEncDecBuilder(g, w.encDecWeights, w.shape(), quantized)
	if kind == m2m100DecoderMerged {
		b.mergedDecoder(io, g.Input("use_cache_branch", onnxgraph.Bool, onnxgraph.Fixed(1)))
	} else {
		b.decoder(io)
	}

	g.Output("logits", onnxgraph.Float, batch, steps, onnxgraph.Fixed(int64(d.Vocab)))
	for i := range d.DecoderLayers {
		c := encDecCacheNames("present", i)
		g.Output(c[0], onnxgraph.Float, batch, heads, presentSeq, headDim)
		g.Output(c[1], onnxgraph.Float, batch, heads, presentSeq, headDim)
		if io.presentEncoder {
			g.Output(c[2], onnxgraph.Float, batch, heads, encOut, headDim)
			g.Output(c[3], onnxgraph.Float, batch, heads, encOut, headDim)
		}
	}
	return encDecModel(g)
}
