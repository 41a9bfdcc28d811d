#!/usr/bin/env bash
# GPU step of edgeinfer's setup (`make setup GPU=1` runs it; it also runs on
# its own): installs the CUDA build of ONNX Runtime into
# $EDGEINFER_HOME/lib/cuda, beside the CPU build that setup.sh installs in
# $EDGEINFER_HOME/lib. A machine without an NVIDIA GPU keeps the CPU build
# only (FORCE_GPU=1 installs anyway, e.g. to prepare an image).
#
# The CUDA build is ONNX Runtime 1.29.0 for CUDA 13 and cuDNN 9 (sm_70 to
# sm_120): its providers from com.github.asus4.onnxruntime.linux-x64-gpu and
# its core from onnxruntime-node@1.29.0, the same version, as ONNX Runtime
# requires. (asus4's own core package is a CPU-only build that cannot host
# the CUDA provider: on an H200 it refused the CUDA options and crashed in the
# first CUDA run. The core must export OrtSessionOptionsAppendExecutionProvider_CUDA,
# which install checks.) The CUDA and cuDNN libraries themselves
# are not installed here: edgeinfer finds them at run time in
# EDGEINFER_CUDA_LIBS, LD_LIBRARY_PATH, the CUDA toolkit, Python
# site-packages (NVIDIA's pip wheels: nvidia-cuda-runtime, nvidia-cublas,
# nvidia-cudnn-cu13, nvidia-cufft, nvidia-curand) and the system directories.
set -euo pipefail

readonly ORT_CUDA_VERSION=1.29.0
readonly UNITY_PACKAGE_VERSION=0.4.9 # asus4's package that ships the ORT 1.29.0 CUDA providers
readonly GPU_PACKAGE=com.github.asus4.onnxruntime.linux-x64-gpu
readonly PLUGIN_DIR=package/Plugins/Linux/x64
readonly CORE_PACKAGE=onnxruntime-node # its 1.29.0 core is built with the CUDA entry points
readonly CORE_MEMBER=package/bin/napi-v6/linux/x64/libonnxruntime.so.1
readonly INSTALL_STAMP=$ORT_CUDA_VERSION-cuda-core # changed when the core's source changed

EDGEINFER_HOME=${EDGEINFER_HOME:-$HOME/.edgeinfer}
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/edgeinfer
DOWNLOADS=$CACHE_DIR/downloads

step() { printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() {
	printf 'setup-gpu: %s\n' "$*" >&2
	exit 1
}

# has_nvidia_gpu succeeds when the NVIDIA driver exposes a GPU.
has_nvidia_gpu() {
	if command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
		return 0
	fi
	compgen -G '/proc/driver/nvidia/gpus/*' >/dev/null || compgen -G '/dev/nvidia[0-9]*' >/dev/null
}

# npm_pack_cached downloads an npm package's tarball into the cache once.
npm_pack_cached() {
	local name=$1 version=$2
	local tgz=$DOWNLOADS/$name-$version.tgz
	if [[ ! -f $tgz ]]; then
		info "downloading $name@$version with npm pack" >&2
		mkdir -p "$DOWNLOADS"
		local tmp
		tmp=$(mktemp -d "$DOWNLOADS/.npm-pack.XXXXXX")
		(cd "$tmp" && npm pack --silent "$name@$version" >/dev/null)
		mv "$tmp/$name-$version.tgz" "$tgz"
		rmdir "$tmp"
	fi
	echo "$tgz"
}

# extract copies one member of a tarball to dest, atomically.
extract() {
	local tgz=$1 member=$2 dest=$3
	tar -xzOf "$tgz" "$member" >"$dest.tmp" || die "$member not found in $tgz"
	chmod 755 "$dest.tmp"
	mv "$dest.tmp" "$dest"
}

# report_cuda_libraries says where the CUDA 13 and cuDNN 9 libraries would
# come from; edgeinfer's own search at run time is the one that counts.
report_cuda_libraries() {
	local soname found where dirs=() d
	# An EDGEINFER_CUDA_LIBS entry is a library directory or a site-packages one.
	for d in ${EDGEINFER_CUDA_LIBS:+${EDGEINFER_CUDA_LIBS//:/ }}; do
		dirs+=("$d" "$d"/nvidia/*/lib)
	done
	dirs+=(${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }} /usr/local/cuda/lib64 /usr/local/cuda/targets/*/lib)
	for soname in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcufft.so.12 libcudnn.so.9; do
		found=
		for where in "${dirs[@]}"; do
			[[ -f $where/$soname ]] && found=$where/$soname && break
		done
		if [[ -z $found ]] && command -v python3 >/dev/null; then
			found=$(python3 -c 'import site, glob, sys
for d in site.getsitepackages() + [site.getusersitepackages()]:
    for p in glob.glob(d + "/nvidia/*/lib/" + sys.argv[1]):
        print(p); sys.exit()' "$soname" 2>/dev/null || true)
		fi
		if [[ -z $found ]]; then
			found=$(ldconfig -p 2>/dev/null | awk -v s="$soname" '$1 == s { print $NF; exit }')
		fi
		info "$soname: ${found:-not found (install CUDA 13 / cuDNN 9, or the NVIDIA pip wheels, or set EDGEINFER_CUDA_LIBS)}"
	done
}

install_onnxruntime_cuda() {
	step "ONNX Runtime $ORT_CUDA_VERSION (CUDA build)"
	if [[ $(uname -s)-$(uname -m) != Linux-x86_64 ]]; then
		info "no CUDA build for $(uname -s) $(uname -m): keeping the CPU build"
		return
	fi
	if ! has_nvidia_gpu && [[ ${FORCE_GPU:-0} != 1 ]]; then
		info "no NVIDIA GPU found: keeping the CPU build (FORCE_GPU=1 installs the CUDA build anyway)"
		return
	fi
	local dir=$EDGEINFER_HOME/lib/cuda
	# The install stamp names the packages; onnxruntime.version holds the bare
	# version, which edgeinfer compares with the library it loads.
	local stamp=$dir/.install-stamp
	local files=(libonnxruntime.so libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so)
	local f complete=1
	for f in "${files[@]}"; do
		[[ -f $dir/$f ]] || complete=0
	done
	if ((complete)) && [[ -f $stamp && $(<"$stamp") == "$INSTALL_STAMP" ]]; then
		info "already installed: $dir"
	else
		command -v npm >/dev/null || die "'npm' not found on PATH; install node 20 + npm and rerun"
		local core gpu
		core=$(npm_pack_cached "$CORE_PACKAGE" "$ORT_CUDA_VERSION")
		gpu=$(npm_pack_cached "$GPU_PACKAGE" "$UNITY_PACKAGE_VERSION")
		mkdir -p "$dir"
		extract "$core" "$CORE_MEMBER" "$dir/libonnxruntime.so"
		grep -q OrtSessionOptionsAppendExecutionProvider_CUDA "$dir/libonnxruntime.so" ||
			die "$CORE_PACKAGE@$ORT_CUDA_VERSION's core lacks the CUDA entry points; it cannot host the CUDA provider"
		extract "$gpu" "$PLUGIN_DIR/libonnxruntime_providers_shared.so" "$dir/libonnxruntime_providers_shared.so"
		extract "$gpu" "$PLUGIN_DIR/libonnxruntime_providers_cuda.so" "$dir/libonnxruntime_providers_cuda.so"
		echo "$ORT_CUDA_VERSION" >"$dir/onnxruntime.version"
		echo "$INSTALL_STAMP" >"$stamp"
		info "installed $dir ($(du -sh "$dir" | cut -f1))"
	fi
	report_cuda_libraries
	info "models use it with device: cuda (per model, or top-level in the config)"
}

install_onnxruntime_cuda "$@"
