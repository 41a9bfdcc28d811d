#!/usr/bin/env bash
# One run, one machine: every model family's harness on the full synthetic
# presets, the Go micro-benchmarks, and `edgeinfer bench` charts, written to
# benchmarks/results/<date>.md (+ benchmarks/results/<date>/ for charts and
# raw outputs). Nothing is asserted. Run it on a quiet machine: the script
# records the load average before and after and flags a noisy run.
#
#   benchmarks/run.sh                  everything (84 min on 2 cores, an hour of it whisper;
#                                      whisper adds 16 configurations of minute-long requests)
#   ONLY="embeddings resnet" benchmarks/run.sh
#   DURATION=10s benchmarks/run.sh     shorter measuring windows
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

EDGEINFER_HOME=${EDGEINFER_HOME:-$HOME/.edgeinfer}
export EDGEINFER_HOME
DURATION=${DURATION:-15s}
ONLY=${ONLY:-embeddings resnet m2m100 whisper llm micro charts}
day=$(date -u +%F)
out=benchmarks/results/$day
report=benchmarks/results/$day.md
models=$EDGEINFER_HOME/models
mkdir -p "$out"

want() { [[ " $ONLY " == *" $1 "* ]]; }
load() { cut -d' ' -f1 /proc/loadavg; }
# settle waits (up to 2 minutes) for the 1-minute load average to fall below
# 1: after a harness that kept every core busy it takes ~45 s, and without
# the wait every following harness was flagged noisy by the one before.
settle() {
	local waited=0
	while awk -v l="$(load)" 'BEGIN{exit !(l >= 1)}' && ((waited < 120)); do
		sleep 5
		waited=$((waited + 5))
	done
}
section() { printf '\n## %s\n\n' "$1" >>"$report"; }
# run NAME CMD...: runs a harness, keeps its raw output, appends it to the report.
run() {
	local name=$1
	shift
	echo "== $name: $*" >&2
	local before after
	settle
	before=$(load)
	if "$@" >"$out/$name.txt" 2>"$out/$name.log"; then :; else
		echo "(failed with status $?; see $out/$name.log)" >>"$out/$name.txt"
	fi
	after=$(load)
	section "$name"
	printf 'command: `%s`  \nload average before/after: %s / %s%s\n\n' "$*" "$before" "$after" \
		"$(awk -v a="$before" 'BEGIN{if (a>1) print " — **noisy: something else was running**"}')" >>"$report"
	cat "$out/$name.txt" >>"$report"
}

make setup >&2
go build -o bin/edgeinfer ./cmd/edgeinfer
synth() { bin/edgeinfer models synth --preset full --out "$models" --only "$@" >&2; }
[[ -f $models/@cf/baai/bge-base-en-v1.5/onnx/model.onnx && -f $models/@cf/baai/bge-base-en-v1.5/ollama/model.gguf ]] && grep -q '"edgeinfer_preset": "full"\|"hidden_size": 768' "$models/@cf/baai/bge-base-en-v1.5/config.json" || synth @cf/baai/bge-base-en-v1.5
grep -q '"hidden_sizes": \[\s*256' "$models/@cf/microsoft/resnet-50/config.json" 2>/dev/null && [[ $(stat -c %s "$models/@cf/microsoft/resnet-50/onnx/model.onnx") -gt 50000000 ]] || synth @cf/microsoft/resnet-50
grep -q '"encoder_layers": 12' "$models/@cf/meta/m2m100-1.2b/config.json" 2>/dev/null && grep -q '"d_model": 1024' "$models/@cf/meta/m2m100-1.2b/config.json" || synth @cf/meta/m2m100-1.2b
if want whisper; then
	grep -q '"d_model": 384' "$models/@cf/openai/whisper-tiny-en/config.json" 2>/dev/null || synth @cf/openai/whisper-tiny-en
	grep -q '"d_model": 1280' "$models/@cf/openai/whisper-large-v3-turbo/config.json" 2>/dev/null || synth @cf/openai/whisper-large-v3-turbo
fi
for peer in benchmarks/embeddings/peer benchmarks/m2m100/peer benchmarks/whisper/peer compat/imageprep-parity; do
	[[ -d $peer/node_modules ]] || (cd "$peer" && npm ci --ignore-scripts --no-audit --no-fund >&2)
done

cat >"$report" <<MD
# edgeinfer benchmark report, $day

All figures come from one run of \`benchmarks/run.sh\` on one machine, on the **synthetic** full-size
presets (real architectures and sizes, random weights: speed is honest, outputs are meaningless).

## Machine and versions

- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores visible; flags: $(grep -m1 flags /proc/cpuinfo | grep -o 'avx512f\|avx512_vnni\|amx_tile\|avx2' | sort -u | xargs)
- memory: $(free -g | awk '/Mem:/{print $2}') GiB; kernel $(uname -r)
- $(go version); ONNX Runtime $(cat "$EDGEINFER_HOME/lib/onnxruntime.version" 2>/dev/null || echo '?'); Ollama $(cat "$EDGEINFER_HOME/bin/ollama.version" 2>/dev/null || echo '?'); node $(node --version); transformers.js $(node -p "require('./benchmarks/embeddings/peer/node_modules/@huggingface/transformers/package.json').version" 2>/dev/null || echo '?')
- edgeinfer $(git describe --always --dirty)

## Fairness rules

- The same ONNX Runtime thread count for edgeinfer, raw ONNX Runtime and the transformers.js peer; the same
  model files and inputs for all of them.
- Warm-up runs are excluded from every figure; each harness measures for a fixed window after it.
- Latencies are medians (p50) and tails (p99) over all requests of a window; throughputs are totals over the
  window. Harnesses that repeat a configuration report each repeat so the spread is visible.
- Nothing else runs: the load average before and after each harness is recorded, and a run is flagged noisy
  when it was still above 1 before it (after 2 minutes of waiting); the load after a harness is its own
  (about the thread count), so it is not a sign of noise.
- Ratios that targets are set for (the limit against edgeinfer against a peer) are measured in interleaved
  rounds within one harness, each reported pooled with the range of the rounds' own ratios.
MD

want embeddings && run embeddings-fp32 go run ./benchmarks/embeddings --dir "$models/@cf/baai/bge-base-en-v1.5" --variant fp32 --duration "$DURATION" --ollama-dir "$models/@cf/baai/bge-base-en-v1.5/ollama"
want embeddings && run embeddings-int8 go run ./benchmarks/embeddings --dir "$models/@cf/baai/bge-base-en-v1.5" --variant int8 --duration "$DURATION" --ollama=false
want embeddings && run embeddings-rss go run ./benchmarks/embeddings --dir "$models/@cf/baai/bge-base-en-v1.5" --variant fp32 --rss
want resnet && run resnet go run ./benchmarks/resnet --dir "$models/@cf/microsoft/resnet-50" --duration "$DURATION"
want m2m100 && run m2m100 go run ./benchmarks/m2m100 --dir "$models/@cf/meta/m2m100-1.2b" --duration "$DURATION"
want whisper && run whisper go run ./benchmarks/whisper --tiny-en "$models/@cf/openai/whisper-tiny-en" --turbo "$models/@cf/openai/whisper-large-v3-turbo" --duration "$DURATION"
want llm && run llm go run ./benchmarks/llm --home "$EDGEINFER_HOME"
want micro && run micro-benchmarks go test -run '^$' -bench . -benchmem -count 5 ./tokenize ./engine/batch ./models/bert ./imageprep
if want charts; then
	run bench-charts bin/edgeinfer bench @cf/baai/bge-base-en-v1.5 --concurrency 1,4,16,64 --duration "$DURATION" --warmup 3s --out "$out/charts"
	printf '\n![throughput](%s/charts/throughput.png)\n![latency](%s/charts/latency.png)\n' "$day" "$day" >>"$report"
fi
printf '\n---\nbenchmarks/run.sh took %d min (ONLY="%s", DURATION=%s).\n' $((SECONDS / 60)) "$ONLY" "$DURATION" >>"$report"
echo "wrote $report" >&2
