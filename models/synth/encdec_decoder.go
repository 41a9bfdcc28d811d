package synth

import (
	"fmt"

	"github.com/edgeinfer/edgeinfer/models/onnxgraph"
)

// encDecCache names one decoder layer's key/value tensors, in the order
// decoder.key, decoder.value, encoder.key, encoder.value.
type encDecCache [4]string

func encDecCacheNames(prefix string, layer int) encDecCache {
	var c encDecCache
	for j, part := range []string{"decoder.key", "decoder.value", "encoder.key", "encoder.value"} {
		c[j] = fmt.Sprintf("%s.%d.%s", prefix, layer, part)
	}
	return c
}

// decoderFamily is how one family's decoder differs from the shared stack.
type decoderFamily struct {
	// embed returns the input embeddings (tokens plus positions) of ids
	// after pastLen (an int64 scalar) cached steps.
	embed func(b *encDecBuilder, ids, pastLen string) string
	// crossMask returns the additive mask over encoder positions, or nil
	// for none (Whisper's encoder output is always 30 s, unpadded).
	crossMask func(b *encDecBuilder) string
	// tokens is the embedding table the LM head is tied to.
	tokens *onnxgraph.Tensor
}

// encDecDecoderIO is what one decoder computation reads and how it names
// its results.
type encDecDecoderIO struct {
	family        decoderFamily
	ids           string
	encoderStates string
	// past holds each layer's past_key_values inputs; nil for the first
	// step, which computes the cross-attention keys from encoderStates.
	past []encDecCache
	// logits and present name the results. With a past, the encoder
	// presents are emitted (empty) only if presentEncoder is set:
	// decoder_with_past has none, the merged decoder's cache branch must
	// match its other branch.
	logits         string
	present        []encDecCache
	presentEncoder bool
	// crossAttentions, when set, names each layer's softmaxed
	// cross-attention weights [B, heads, T, encoder length], the outputs
	// of the timestamped Whisper exports.
	crossAttentions []string
}

// decoder emits the decoder stack and LM head; it returns the logits and
// the present key/values per layer.
func (b *encDecBuilder) decoder(io encDecDecoderIO) (logits string, present []encDecCache) {
	g := b.g
	pastLen := g.ScalarInt(0)
	if io.past != nil {
		pastLen = g.Op("Gather", []string{g.Op("Shape", []string{io.past[0][0]}), g.ScalarInt(2)})
	}
	h := io.family.embed(b, io.ids, pastLen)
	selfMask := b.causalMask(io.ids, pastLen)
	crossMask := ""
	if io.family.crossMask != nil {
		crossMask = io.family.crossMask(b)
	}

	present = make([]encDecCache, b.s.DecoderLayers)
	for i := range b.s.DecoderLayers {
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
		h = g.Op("Add", []string{h, b.attnOut(b.attend(q, k, v, selfMask, ""), prefix+".self_attn")})

		x = b.layerNorm(h, prefix+".encoder_attn_layer_norm", "")
		q = b.query(x, prefix+".encoder_attn")
		// ck, cv are the cross keys attention reads; presentCK, presentCV
		// the outputs the step emits for them.
		var ck, cv, presentCK, presentCV string
		switch {
		case io.past == nil:
			ck, cv = b.keyValue(io.encoderStates, prefix+".encoder_attn", out[2], out[3])
			presentCK, presentCV = ck, cv
		case io.presentEncoder:
			// The cache branch emits empty encoder presents, [0, heads,
			// 1, head_dim], as optimum's merge fills the outputs
			// decoder_with_past lacks: the caller keeps its past.
			ck, cv = io.past[i][2], io.past[i][3]
			empty := []string{g.Ints(0, 0), g.Ints(0, 1), g.Ints(0, 2)}
			presentCK = b.named(out[2], "Slice", append([]string{ck}, empty...))
			presentCV = b.named(out[3], "Slice", append([]string{cv}, empty...))
		default:
			ck, cv = io.past[i][2], io.past[i][3]
			presentCK, presentCV = ck, cv
		}
		probs := ""
		if io.crossAttentions != nil {
			probs = io.crossAttentions[i]
		}
		h = g.Op("Add", []string{h, b.attnOut(b.attend(q, ck, cv, crossMask, probs), prefix+".encoder_attn")})

		h = b.ffn(h, prefix)
		present[i] = encDecCache{k, v, presentCK, presentCV}
	}
	h = b.layerNorm(h, "model.decoder.layer_norm", "")
	return b.lmHead(h, io.family.tokens, io.logits), present
}

// mergedDecoder emits optimum's merged decoder: an If on use_cache_branch
// whose then branch is the with-past decoder and else branch the first-step
// decoder, both producing logits, every present tensor and the
// cross-attention weights if asked; the weights live once in the main
// graph.
func (b *encDecBuilder) mergedDecoder(io encDecDecoderIO, useCache string) {
	branch := func(name string, withPast bool) *onnxgraph.Graph {
		bb := b.branch(name)
		bio := io
		if !withPast {
			bio.past = nil
		}
		bio.logits = bb.g.Fresh(name + "_logits")
		bio.present = make([]encDecCache, len(io.present))
		for i, c := range io.present {
			for j, n := range c {
				bio.present[i][j] = bb.g.Fresh(name + "_" + n)
			}
		}
		bio.crossAttentions = nil
		for _, n := range io.crossAttentions {
			bio.crossAttentions = append(bio.crossAttentions, bb.g.Fresh(name+"_"+n))
		}
		logits, present := bb.decoder(bio)
		bb.g.OutputUnshaped(logits, onnxgraph.Float)
		for _, c := range present {
			for _, n := range c {
				bb.g.OutputUnshaped(n, onnxgraph.Float)
			}
		}
		for _, n := range bio.crossAttentions {
			bb.g.OutputUnshaped(n, onnxgraph.Float)
		}
		return bb.g
	}
	thenG := branch("with_past", true)
	elseG := branch("first_step", false)
	outs := []string{io.logits}
	for _, c := range io.present {
		outs = append(outs, c[:]...)
	}
	outs = append(outs, io.crossAttentions...)
	b.g.Node("If", []string{useCache}, outs,
		onnxgraph.AttrGraph("then_branch", thenG), onnxgraph.AttrGraph("else_branch", elseG))
}
