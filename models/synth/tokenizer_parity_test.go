package synth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/edgeinfer/edgeinfer/tokenize/hf"
	"github.com/edgeinfer/edgeinfer/tokenize/hf/hftest"
)

// tokenizerParityDir is the node project with Hugging Face's tokenizers
// (the Rust library's Node binding) and transformers.js.
const tokenizerParityDir = "../../compat/imageprep-parity"

// requireTokenizerPeers finds node and both npm packages, or fails saying
// how to install them.
func requireTokenizerPeers(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH; the tokenizer parity tests need node 20+ and the packages of compat/imageprep-parity: run `make test-deps`")
	}
	for _, pkg := range []string{"tokenizers", "@huggingface/transformers"} {
		if _, err := os.Stat(filepath.Join(tokenizerParityDir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("npm package %s is not installed in compat/imageprep-parity: run `make test-deps` (npm ci --ignore-scripts there)", pkg)
		}
	}
	return node
}

// parityCase is one encoding: a text, or a pair, with an optional limit.
type parityCase struct {
	A   string  `json:"a"`
	B   *string `json:"b,omitempty"`
	Max int     `json:"max,omitempty"`
}

func (c parityCase) String() string {
	s := fmt.Sprintf("%q", c.A)
	if c.B != nil {
		s += fmt.Sprintf(" + %q", *c.B)
	}
	if c.Max > 0 {
		s += fmt.Sprintf(" (max %d)", c.Max)
	}
	return s
}

// parityCases builds the cases of a corpus: every text alone, every text
// paired with another, and every fifth text truncated at limits, alone and
// paired (truncation is compared with the Rust library only).
func parityCases(texts []string) (all, untruncated []parityCase) {
	n := len(texts)
	for i, s := range texts {
		b := texts[(i*7+3)%n]
		untruncated = append(untruncated, parityCase{A: s}, parityCase{A: s, B: &b})
	}
	all = slices.Clone(untruncated)
	for i := 0; i < n; i += 5 {
		b := texts[(i*11+1)%n]
		for _, limit := range []int{8, 64, 512} {
			all = append(all, parityCase{A: texts[i], Max: limit}, parityCase{A: texts[i], B: &b, Max: limit})
		}
	}
	return all, untruncated
}

// peerIDs runs tokenize.mjs with one engine over the cases.
func peerIDs(t *testing.T, node, engine, dir string, cases []parityCase) [][]int64 {
	t.Helper()
	f := filepath.Join(t.TempDir(), engine+"-cases.jsonl")
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, c := range cases {
		if err := enc.Encode(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "tokenize.mjs", engine, abs, f)
	cmd.Dir = tokenizerParityDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("node tokenize.mjs %s: %v\n%s", engine, err, stderr.String())
	}
	t.Logf("%s peer: %d cases in %s", engine, len(cases), time.Since(start).Round(time.Millisecond))
	var out [][]int64
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var ids []int64
		if err := json.Unmarshal(sc.Bytes(), &ids); err != nil {
			t.Fatalf("%s peer output: %v", engine, err)
		}
		out = append(out, ids)
	}
	if len(out) != len(cases) {
		t.Fatalf("%s peer gave %d results for %d cases", engine, len(out), len(cases))
	}
	return out
}

// goIDs encodes the cases with tokenize/hf, checking the truncation contract
// on the way, and logs the encode rate.
func goIDs(t *testing.T, tok *hf.Tokenizer, cases []parityCase) [][]int64 {
	t.Helper()
	out := make([][]int64, len(cases))
	var bytesIn int
	start := time.Now()
	for i, c := range cases {
		var ids []int64
		var full int
		var truncated bool
		var err error
		if c.B == nil {
			ids, full, truncated, err = tok.Encode(c.A, c.Max)
			bytesIn += len(c.A)
		} else {
			ids, full, truncated, err = tok.EncodePair(c.A, *c.B, c.Max)
			bytesIn += len(c.A) + len(*c.B)
		}
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		if c.Max > 0 && len(ids) > c.Max || truncated != (len(ids) < full) || (!truncated && len(ids) != full) {
			t.Fatalf("%v: %d ids, full %d, truncated %v", c, len(ids), full, truncated)
		}
		out[i] = ids
	}
	el := time.Since(start)
	t.Logf("tokenize/hf: %d cases, %.1f MB in %s: %.0f cases/s, %.2f MB/s (1 goroutine)",
		len(cases), float64(bytesIn)/1e6, el.Round(time.Millisecond), float64(len(cases))/el.Seconds(), float64(bytesIn)/1e6/el.Seconds())
	return out
}

// compareIDs reports the cases where got and want differ; it returns their
// indexes.
func compareIDs(t *testing.T, peer string, cases []parityCase, got, want [][]int64, report func(string, ...any)) []int {
	t.Helper()
	var bad []int
	for i := range cases {
		if !slices.Equal(got[i], want[i]) {
			if len(bad) < 10 {
				report("%s differs on %v:\n  go:   %v\n  %s: %v", peer, cases[i], clip(got[i]), peer, clip(want[i]))
			}
			bad = append(bad, i)
		}
	}
	return bad
}

func clip(ids []int64) string {
	if len(ids) > 40 {
		return fmt.Sprintf("%v … (%d ids)", ids[:40], len(ids))
	}
	return fmt.Sprint(ids)
}

// checkTokenizerParity encodes texts with tokenize/hf and with Hugging Face
// (the tokenizer.json in dir): id for id against the Rust library on every
// case, truncation included; against transformers.js on the untruncated
// cases, except those jsDiffers accepts — constructs where transformers.js
// itself departs from the Rust library, which must differ there too.
//
// The checks run in parallel with each other and with the package's other
// tests: most of their time is the two node processes.
func checkTokenizerParity(t *testing.T, dir string, texts []string, jsDiffers func(*hf.Tokenizer) func(parityCase) bool) {
	t.Parallel()
	t.Helper()
	node := requireTokenizerPeers(t)
	tok, err := hf.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	all, untruncated := parityCases(texts)
	got := goIDs(t, tok, all)
	rust := peerIDs(t, node, "rust", dir, all)
	if bad := compareIDs(t, "rust", all, got, rust, t.Errorf); len(bad) > 0 {
		t.Errorf("%d of %d cases differ from Hugging Face tokenizers", len(bad), len(all))
	}
	js := peerIDs(t, node, "js", dir, untruncated)
	var known func(parityCase) bool
	if jsDiffers != nil {
		known = jsDiffers(tok)
	}
	var unexplained []int
	explained := 0
	for _, i := range compareIDs(t, "js", untruncated, got[:len(untruncated)], js, t.Logf) {
		if known != nil && known(untruncated[i]) && !slices.Equal(rust[i], js[i]) {
			explained++
			continue
		}
		unexplained = append(unexplained, i)
	}
	for _, i := range unexplained[:min(len(unexplained), 10)] {
		t.Errorf("transformers.js differs without a known cause on %v", untruncated[i])
	}
	t.Logf("transformers.js: %d of %d cases differ where it departs from the Rust library (documented), %d otherwise",
		explained, len(untruncated), len(unexplained))
}

// writeXLMRTokenizer writes tokenizer.json and tokenizer_config.json.
func writeXLMRTokenizer(t *testing.T, p Preset) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "xlmr-"+string(p))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	raw, err := XLMRTokenizerJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"tokenizer.json": raw, "tokenizer_config.json": XLMRTokenizerConfigJSON(512),
		"special_tokens_map.json": XLMRSpecialTokensMapJSON(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func corpus(t *testing.T) []string {
	t.Helper()
	texts, err := hftest.Corpus()
	if err != nil {
		t.Fatal(err)
	}
	return texts
}

// xlmrJSDiffers: transformers.js does not read the Precompiled
// normalizer's charsmap; it approximates it (removes some control
// characters, maps some spaces to " ", applies NFKC except around U+FF5E),
// so it departs from the Rust library wherever that approximation and
// nmt_nfkc as the library applies it (grapheme by grapheme, first match)
// disagree: decomposed Hangul, which the library leaves as jamo; "ｶﾞ";
// zero-width joiners, which nmt_nfkc deletes and transformers.js makes
// spaces; a combining mark after a mapped character (Ａ + U+0301), which the
// library drops; and more. A case is explained only if the two
// normalizations of one of its texts differ, or if it pairs a text with the
// empty text, which transformers.js (text_pair || null) encodes as no pair.
func xlmrJSDiffers(tok *hf.Tokenizer) func(parityCase) bool {
	controls := regexp.MustCompile("[\u0001-\u0008\u000B\u000E-\u001F\u007F\u008F\u009F]")
	spaces := regexp.MustCompile("[\u0009\u000A\u000C\u000D\u00A0\u1680\u2000-\u200F\u2028\u2029\u202F\u205F\u2581\u3000\uFEFF\uFFFD]")
	collapse := regexp.MustCompile(" {2,}")
	jsNormalize := func(s string) string {
		s = spaces.ReplaceAllLiteralString(controls.ReplaceAllLiteralString(s, ""), " ")
		parts := strings.Split(s, "\uFF5E")
		for i, p := range parts {
			parts[i] = norm.NFKC.String(p)
		}
		return collapse.ReplaceAllLiteralString(strings.Join(parts, "\uFF5E"), " ")
	}
	differs := func(s string) bool { return jsNormalize(s) != tok.Normalize(s) }
	return func(c parityCase) bool {
		return differs(c.A) || c.B != nil && (*c.B == "" || differs(*c.B))
	}
}

func TestXLMRTokenizerParityTiny(t *testing.T) {
	dir := writeXLMRTokenizer(t, Tiny)
	checkTokenizerParity(t, dir, corpus(t), xlmrJSDiffers)
}

func TestXLMRTokenizerParityFull(t *testing.T) {
	dir := writeXLMRTokenizer(t, Full)
	checkTokenizerParity(t, dir, corpus(t), xlmrJSDiffers)
}

// xlmrTestdata is the tiny synthetic XLM-R tokenizer.json, compacted, that
// tokenize/hf's own tests and fuzz target read (they may not import synth).
const xlmrTestdata = "../../tokenize/hf/testdata/xlmr-tiny.tokenizer.json"

// TestXLMRTokenizerTestdataCurrent keeps that copy equal to the generator's
// output; EDGEINFER_UPDATE_TESTDATA=1 rewrites it.
func TestXLMRTokenizerTestdataCurrent(t *testing.T) {
	raw, err := XLMRTokenizerJSON(Tiny)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	b.WriteByte('\n')
	if os.Getenv("EDGEINFER_UPDATE_TESTDATA") == "1" {
		if err := os.WriteFile(xlmrTestdata, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(xlmrTestdata)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Fatalf("%s is stale: rerun with EDGEINFER_UPDATE_TESTDATA=1", xlmrTestdata)
	}
}
