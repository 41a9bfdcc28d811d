package synth

import (
	"fmt"
	"strings"
)

// Special token IDs of the synthetic Llama vocabulary (Llama-2's layout).
const (
	llamaUNK = 0
	llamaBOS = 1
	llamaEOS = 2
	// llamaFirstByte is the ID of <0x00>; the 256 byte-fallback tokens follow
	// it, so any text tokenizes.
	llamaFirstByte  = 3
	llamaFirstPiece = llamaFirstByte + 256
)

// SentencePiece token types as GGUF stores them.
const (
	llamaTypeNormal  int32 = 1
	llamaTypeUnknown int32 = 2
	llamaTypeControl int32 = 3
	llamaTypeByte    int32 = 6
)

// Logit biases (see llamaBiasDim). Byte and control tokens are pushed far out
// of reach so replies stay printable. The EOS bias lets replies end on their
// own: on the tiny model about half of 256-token requests stop on EOS, at
// temperature 0 and 0.8 alike (measured through Ollama 0.17.4); higher
// values made most replies a few dozen tokens long. Word-start pieces are
// favoured so output reads as words.
const (
	llamaBiasNever     = -40
	llamaBiasEOS       = 2.5
	llamaBiasWordStart = 1.5
)

// spaceMark is SentencePiece's visible space, which starts a word piece.
const spaceMark = "▁"

// llamaWords are the whole-word pieces; with their prefixes they make
// English prompts tokenize into few pieces.
var llamaWords = strings.Fields(`the of and to in is it you that he was for on are with as I his they be
at one have this from or had by hot word but what some we can out other were all there when up use
your how said an each she which do their time if will way about many then them write would like so
these her long make thing see him two has look more day could go come did number sound no most people
my over know water than call first who may down side been now find any new work part take get place
made live where after back little only round man year came show every good me give our under name very
through just form sentence great think say help low line differ turn cause much mean before move right
boy old too same tell does set three want air well also play small end put home read hand port large
spell add even land here must big high such follow act why ask men change went light kind off need house
picture try us again animal point mother world near build self earth father model engine edge infer
token quantum computing simple terms explain hello answer question`)

type llamaVocab struct {
	tokens []string
	scores []float32
	types  []int32
	bias   []float32
}

// newLlamaVocab builds a SentencePiece ("llama") vocabulary of exactly size
// tokens: the special tokens, the byte fallbacks, single characters, the word
// list with its prefixes, and then made-up syllable pieces until full.
func newLlamaVocab(size int) llamaVocab {
	var v llamaVocab
	add := func(tok string, typ int32, score, bias float32) {
		v.tokens = append(v.tokens, tok)
		v.types = append(v.types, typ)
		v.scores = append(v.scores, score)
		v.bias = append(v.bias, bias)
	}
	add("<unk>", llamaTypeUnknown, 0, llamaBiasNever)
	add("<s>", llamaTypeControl, 0, llamaBiasNever)
	add("</s>", llamaTypeControl, 0, llamaBiasEOS)
	for b := range 256 {
		add(fmt.Sprintf("<0x%02X>", b), llamaTypeByte, 0, llamaBiasNever)
	}

	seen := make(map[string]bool)
	piece := func(p string) {
		if len(v.tokens) >= size || seen[p] {
			return
		}
		seen[p] = true
		var bias float32
		if strings.HasPrefix(p, spaceMark) && p != spaceMark {
			bias = llamaBiasWordStart
		}
		// Earlier pieces score higher, so the tokenizer prefers merging
		// into whole words over made-up syllables.
		add(p, llamaTypeNormal, -float32(len(v.tokens)-llamaFirstPiece), bias)
	}

	piece(spaceMark)
	for c := byte('!'); c <= '~'; c++ {
		piece(string(c))
	}
	for c := byte('a'); c <= 'z'; c++ {
		piece(spaceMark + string(c))
	}
	for _, w := range llamaWords {
		// The prefixes give SentencePiece's pairwise merges a path to the word.
		for n := 2; n <= len(w); n++ {
			piece(spaceMark + w[:n])
		}
	}
	syllables := llamaSyllables()
	// Words of n syllables, n = 1, 2, 3, ..., until the vocabulary is full.
	for n := 1; len(v.tokens) < size; n++ {
		idx := make([]int, n) // an odometer over syllable choices
		for len(v.tokens) < size {
			var w strings.Builder
			for _, i := range idx {
				w.WriteString(syllables[i])
			}
			piece(spaceMark + w.String())
			piece(w.String())
			k := n - 1
			for ; k >= 0; k-- {
				if idx[k]++; idx[k] < len(syllables) {
					break
				}
				idx[k] = 0
			}
			if k < 0 {
				break
			}
		}
	}
	return v
}

// llamaSyllables lists consonant+vowel pairs, the stuff of made-up words.
func llamaSyllables() []string {
	var out []string
	for _, c := range "bcdfghklmnprstvz" {
		for _, vowel := range "aeiou" {
			out = append(out, string(c)+string(vowel))
		}
	}
	return out
}
