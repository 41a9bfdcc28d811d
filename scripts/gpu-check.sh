#!/usr/bin/env bash
# GPU verification: runs the prebuilt gpucheck program (benchmarks/gpucheck)
# on a machine with an NVIDIA GPU. It generates the full-size synthetic
# BGE-base and ResNet-50 (fp32 and fp16) unless present, runs each on CUDA
# and on the CPU, checks the outputs agree (embeddings: max |Δ| ≤ 1e-3 after
# mean pooling and L2 normalization; ResNet logits: max |Δ| ≤ 1e-2 and the
# same top 5 up to near-ties; both with TF32 off; the fp16 exports on CUDA
# against fp32 on the CPU: 5e-3 and 2e-2), checks the engine serves BGE-base
# fp32 and fp16 on CUDA, and prints items/s at batch 1/8/32 for CPU and GPU.
#
#   scripts/gpu-check.sh build        build bin/gpucheck here (needs Go and cgo)
#   scripts/gpu-check.sh              run it (no Go needed on the GPU machine)
#   scripts/gpu-check.sh probe        first probe each way into the CUDA provider
#                                     (EDGEINFER_ORT_CUDA_ROUTE), one process per
#                                     route, TF32 setting and model (a MatMul, tiny
#                                     and full BGE-base), one line each; then run
#                                     the check on the first route that passed
#                                     all, and on the next if that one crashes
#
# Environment:
#   BIN          the gpucheck binary (default: bin/gpucheck)
#   ORT_GPU_DIR  the CUDA build of ONNX Runtime: libonnxruntime.so 1.29.0 with
#                libonnxruntime_providers_shared.so and _cuda.so beside it
#                (default: $EDGEINFER_HOME/lib/cuda, as `make setup GPU=1` installs).
#                The core must be built with CUDA (it exports
#                OrtSessionOptionsAppendExecutionProvider_CUDA), as onnxruntime-node
#                1.29.0's bin/napi-v6/linux/x64/libonnxruntime.so.1 is; a CPU-only
#                core (asus4's com.github.asus4.onnxruntime) is refused.
#   MODELS       models root (default: ${TMPDIR:-/tmp}/edgeinfer-gpucheck/models)
#   DEVICE       cuda (default) or cpu (CPU only: a smoke test on any machine)
#   PRESET       full (default) or tiny
#   BATCHES      benchmark batch sizes (default 1,8,32)
#   TIME         measuring time per benchmark point (default 2s)
#   FP16         check and benchmark the fp16 exports too (default true)
#   CUDA_LIBS    extra directories for the CUDA 13 / cuDNN 9 libraries: library
#                or Python site-packages directories (python3's own
#                site-packages are added when python3 is on PATH)
#   LIMIT        seconds before the check is stopped (default 420)
#   ROUTES       routes to probe, in order of preference (default: cuda-v2 v2 v1)
#   PROBE_LIMIT  seconds before one probe is stopped (default 60)
#   PROBE_LOGS   where each probe's full output is kept (default: $MODELS/../probe-logs)
# It exits non-zero when CUDA is requested but unavailable, or a check fails.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EDGEINFER_HOME=${EDGEINFER_HOME:-$HOME/.edgeinfer}
BIN=${BIN:-$REPO_ROOT/bin/gpucheck}

if [[ ${1:-} == build ]]; then
	(cd "$REPO_ROOT" && CGO_ENABLED=1 GOOS=linux GOARCH=amd64 ${GO:-go} build -trimpath -ldflags "-s -w" -o "$BIN" ./benchmarks/gpucheck)
	echo "built $BIN ($(du -h "$BIN" | cut -f1))"
	exit 0
fi

[[ -x $BIN ]] || {
	echo "gpu-check: no gpucheck binary at $BIN: run 'scripts/gpu-check.sh build' where Go is installed, or set BIN" >&2
	exit 2
}
DEVICE=${DEVICE:-cuda}
MODELS=${MODELS:-${TMPDIR:-/tmp}/edgeinfer-gpucheck/models}
ORT_GPU_DIR=${ORT_GPU_DIR:-$EDGEINFER_HOME/lib/cuda}
export EDGEINFER_ORT_CUDA_DIR=$ORT_GPU_DIR

# The CPU build serves the CPU sessions when CUDA is not requested; without
# one, the CUDA build (which runs CPU sessions too) stands in.
if [[ -z ${EDGEINFER_ORT_LIB:-} && ! -f $EDGEINFER_HOME/lib/libonnxruntime.so && -f $ORT_GPU_DIR/libonnxruntime.so ]]; then
	export EDGEINFER_ORT_LIB=$ORT_GPU_DIR/libonnxruntime.so
fi

cuda_libs=${CUDA_LIBS:-}
if command -v python3 >/dev/null; then
	sites=$(python3 -c 'import site; print(":".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null || true)
	cuda_libs=${cuda_libs:+$cuda_libs:}$sites
fi
export EDGEINFER_CUDA_LIBS=${EDGEINFER_CUDA_LIBS:+$EDGEINFER_CUDA_LIBS:}$cuda_libs

echo "gpu-check: $(date -u +%FT%TZ) on $(hostname), device=$DEVICE, ORT_GPU_DIR=$ORT_GPU_DIR, MODELS=$MODELS"
if command -v nvidia-smi >/dev/null; then
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /' || true
fi
mkdir -p "$MODELS"

# check runs the check; $1 is the route (empty: the default).
check() {
	local start=$SECONDS status=0
	EDGEINFER_ORT_CUDA_ROUTE=${1:-${EDGEINFER_ORT_CUDA_ROUTE:-}} timeout "${LIMIT:-420}" "$BIN" -models "$MODELS" -device "$DEVICE" \
		-preset "${PRESET:-full}" -batches "${BATCHES:-1,8,32}" -time "${TIME:-2s}" -fp16="${FP16:-true}" || status=$?
	if ((status == 124)); then
		echo "gpu-check: stopped after ${LIMIT:-420}s" >&2
	fi
	echo "gpu-check: exit $status after $((SECONDS - start))s${1:+ (route $1)}"
	return "$status"
}

# probe_one runs one probe in its own process, so a crash ends only that
# probe, and prints its result line.
probe_one() {
	local route=$1 tf32=$2 model=$3 rc=0
	local log=$PROBE_LOGS/$route-tf32_$tf32-$model.log
	local start=$SECONDS
	EDGEINFER_ORT_CUDA_ROUTE=$route timeout "${PROBE_LIMIT:-60}" "$BIN" -models "$MODELS" -probe "$model" -tf32 "$tf32" >"$log" 2>&1 || rc=$?
	local result
	if ((rc == 0)); then
		result="OK: $(sed -n 's/^probe: OK: //p' "$log")"
	else
		local step crash
		step=$(sed -n 's/^step: //p' "$log" | tail -1)
		crash=$(grep -m1 -E '^(SIGSEGV|SIGABRT|SIGBUS|SIGILL|SIGFPE|fatal error|panic|terminate|gpucheck: FAIL)' "$log" || true)
		((rc == 124)) && crash="timed out after ${PROBE_LIMIT:-60}s"
		result="FAIL (exit $rc) at step \"$step\": $crash"
	fi
	printf 'probe: route %-7s tf32 %-7s %-6s %3ss  %s\n' "$route" "$tf32" "$model" "$((SECONDS - start))" "$result"
	return "$rc"
}

if [[ ${1:-} == probe ]]; then
	PROBE_LOGS=${PROBE_LOGS:-$MODELS/../probe-logs}
	mkdir -p "$PROBE_LOGS"
	"$BIN" -models "$MODELS" -probe prepare
	passed=()
	for route in ${ROUTES:-cuda-v2 v2 v1}; do
		ok=1
		tf32s="default off"
		[[ $route == v1 ]] && tf32s=default # its options cannot turn TF32 off
		for tf32 in $tf32s; do
			for model in matmul tiny full; do
				probe_one "$route" "$tf32" "$model" || {
					ok=0
					break
				}
			done
		done
		((ok)) && passed+=("$route")
	done
	echo "probe: routes that passed every probe: ${passed[*]:-none}"
	((${#passed[@]} > 0)) || exit 1
	status=0
	for route in "${passed[@]}"; do
		check "$route" && exit 0 || status=$?
		# A check that failed without crashing (exit 1) measured what it
		# could; only a crash (Go exits 2 on a fatal signal) tries the next.
		((status == 2)) || exit "$status"
	done
	exit "$status"
fi

status=0
check || status=$?
exit "$status"
