package synth

import (
	"fmt"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// buildWhisperEncoder is encoder_model.onnx (quantized:
// encoder_model_quantized.onnx): input_features [batch, n_mels, 3000] →
// last_hidden_state [batch, 1500, d_model]. As WhisperEncoder: two
// convolutions with GELU (the second of stride 2), the fixed sinusoidal
// positions added, pre-LN layers, a final LayerNorm. The int8 form keeps
// the convolutions in float32, as quantizing scripts leave Conv out: ONNX
// Runtime's CPU ConvInteger takes no int8 weights (onnxruntime#15888).
func buildWhisperEncoder(w *whisperWeights, quantized bool) *onnxgraph.Model {
	d := w.d
	g := onnxgraph.NewGraph("whisper_encoder")
	batch := onnxgraph.Dynamic("batch_size")
	features := g.Input("input_features", onnxgraph.Float, batch, onnxgraph.Dynamic("feature_size"), onnxgraph.Dynamic("encoder_sequence_length"))

	b := newEncDecBuilder(g, w.encDecWeights, w.shape(), quantized)
	h := b.conv(features, w, 1, d.Mels, 1)
	h = b.conv(h, w, 2, d.DModel, 2)
	h = g.Op("Transpose", []string{h}, onnxgraph.AttrInts("perm", 0, 2, 1))
	h = g.Op("Add", []string{h, b.param(w.encoderPositions())})
	for i := range d.EncoderLayers {
		h = b.encoderLayer(h, "", i)
	}
	b.layerNorm(h, "model.encoder.layer_norm", "last_hidden_state")
	g.Output("last_hidden_state", onnxgraph.Float, batch, onnxgraph.Dynamic("encoder_sequence_length / 2"), onnxgraph.Fixed(int64(d.DModel)))
	return encDecModel(g)
}

// conv is GELU(Conv1d(x)) with kernel 3 and padding 1.
func (b *encDecBuilder) conv(x string, w *whisperWeights, n, in int, stride int64) string {
	weight, bias := w.conv(n, in)
	y := b.g.Op("Conv", []string{x, b.param(weight), b.param(bias)},
		onnxgraph.AttrInts("kernel_shape", 3), onnxgraph.AttrInts("pads", 1, 1), onnxgraph.AttrInts("strides", stride),
		onnxgraph.AttrInts("dilations", 1), onnxgraph.AttrInt("group", 1))
	return b.activate(y)
}

// whisperEmbed is the decoder's input embedding: the token rows plus the
// learned positions past…past+T (WhisperPositionalEmbedding slices its
// table by the cache length). The position table stays float32 in the int8
// file: the quantizer only rewrites a Gather, and this is a Slice.
func whisperEmbed(b *encDecBuilder, w *whisperWeights, ids, pastLen string) string {
	g := b.g
	tokens := b.lookup(w.tokens(), ids)
	steps := g.Op("Gather", []string{g.Op("Shape", []string{ids}), g.Ints(1)})
	start := g.Op("Unsqueeze", []string{pastLen, g.Ints(0)})
	end := g.Op("Add", []string{start, steps})
	positions := g.Op("Slice", []string{b.param(w.decoderPositions()), start, end, g.Ints(0)})
	return g.Op("Add", []string{tokens, positions})
}

// buildWhisperDecoder is decoder_model_merged.onnx (quantized:
// decoder_model_merged_quantized.onnx) as optimum exports Whisper with
// output_attentions (onnx-community/whisper-*_timestamped): inputs
// input_ids, encoder_hidden_states, past_key_values.{i}.{decoder,encoder}.
// {key,value} and use_cache_branch (no encoder_attention_mask: the encoder
// always sees 30 s); outputs logits, present.{i}.… and
// cross_attentions.{i} [batch, heads, tgt, 1500], the softmaxed
// cross-attention weights, from both branches.
func buildWhisperDecoder(w *whisperWeights, quantized bool) *onnxgraph.Model {
	d := w.d
	g := onnxgraph.NewGraph("whisper_decoder")
	batch := onnxgraph.Dynamic("batch_size")
	decSeq := onnxgraph.Dynamic("decoder_sequence_length")
	encOut := onnxgraph.Dynamic("encoder_sequence_length_out")
	heads, headDim := onnxgraph.Fixed(int64(d.Heads)), onnxgraph.Fixed(int64(d.HeadDim()))

	io := encDecDecoderIO{
		family: decoderFamily{
			embed:  func(b *encDecBuilder, ids, pastLen string) string { return whisperEmbed(b, w, ids, pastLen) },
			tokens: w.tokens(),
		},
		ids:            g.Input("input_ids", onnxgraph.Int64, batch, decSeq),
		encoderStates:  g.Input("encoder_hidden_states", onnxgraph.Float, batch, onnxgraph.Dynamic("encoder_sequence_length / 2"), onnxgraph.Fixed(int64(d.DModel))),
		logits:         "logits",
		presentEncoder: true,
	}
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
		io.present = append(io.present, encDecCacheNames("present", i))
		io.crossAttentions = append(io.crossAttentions, fmt.Sprintf("cross_attentions.%d", i))
	}

	b := newEncDecBuilder(g, w.encDecWeights, w.shape(), quantized)
	b.mergedDecoder(io, g.Input("use_cache_branch", onnxgraph.Bool, onnxgraph.Fixed(1)))

	presentSeq := onnxgraph.Dynamic("past_decoder_sequence_length + decoder_sequence_length")
	g.Output("logits", onnxgraph.Float, batch, decSeq, onnxgraph.Fixed(int64(d.Vocab)))
	for i := range d.DecoderLayers {
		c := encDecCacheNames("present", i)
		g.Output(c[0], onnxgraph.Float, batch, heads, presentSeq, headDim)
		g.Output(c[1], onnxgraph.Float, batch, heads, presentSeq, headDim)
		g.Output(c[2], onnxgraph.Float, batch, heads, encOut, headDim)
		g.Output(c[3], onnxgraph.Float, batch, heads, encOut, headDim)
	}
	for i := range d.DecoderLayers {
		g.Output(io.crossAttentions[i], onnxgraph.Float, batch, heads, decSeq, encOut)
	}
	return encDecModel(g)
}
