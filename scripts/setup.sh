#!/usr/bin/env bash
# One-command setup for edgeinfer: system packages, ONNX Runtime, Ollama,
# the edgeinfer binary and the synthetic demo models. Idempotent: every step
# checks what is already installed (and at which version) and skips it.
#
# Installed results go under $EDGEINFER_HOME (default ~/.edgeinfer); downloads
# are cached under ${XDG_CACHE_HOME:-~/.cache}/edgeinfer so a fresh home
# (as CI uses) only costs copying and linking.
set -euo pipefail

readonly ORT_VERSION=1.30.0
# Node for the compat tier: wrangler 4, the Vite plugin and vitest-pool-workers
# need node >= 22.12; npm serves the official binary as node-linux-<arch>.
readonly NODE_VERSION=22.23.5
readonly OLLAMA_VERSION=0.17.4
readonly MALGO_VERSION=v0.11.24 # ships miniaudio.h 0.11.23, which llama.cpp's vendor/ expects
# libstb-dev and nlohmann-json3-dev stand in for the vendor/ headers that the
# Ollama module zip leaves out of llama.cpp (stb_image.h, nlohmann/json*.hpp).
# redis-server backs the gateway's fleet tests (a throwaway server per test).
# libjpeg-dev (libjpeg62-turbo-dev on Debian, libjpeg-turbo8-dev on Ubuntu)
# gives imageprep libjpeg-turbo's headers, for its fast JPEG decoder.
# libopus0 decodes Opus audio (audioprep loads it at run time).
# python3-pil and python3-numpy run Hugging Face's image recipe on Pillow,
# the reference models/resnet's top-5 parity test checks against.
readonly APT_PACKAGES=(libstb-dev nlohmann-json3-dev redis-server libjpeg-dev libopus0 python3-pil python3-numpy)

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EDGEINFER_HOME=${EDGEINFER_HOME:-$HOME/.edgeinfer}
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/edgeinfer
DOWNLOADS=$CACHE_DIR/downloads
GO=${GO:-go}
# C/C++ flags for Ollama's llama.cpp and ggml; empty means tuned for this CPU
# (see ollama_cflags). Set e.g. "-O3 -march=x86-64-v3" for a portable binary.
OLLAMA_CFLAGS=${EDGEINFER_OLLAMA_CFLAGS:-}

step() { printf '==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() {
	printf 'setup: %s\n' "$*" >&2
	exit 1
}

# as_root runs a command as root, through sudo when we are not root already.
as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

install_system_packages() {
	step "system packages: ${APT_PACKAGES[*]}"
	local missing=() pkg
	for pkg in "${APT_PACKAGES[@]}"; do
		# dpkg -s also succeeds for removed-but-configured packages; check the status line.
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$pkg")
		fi
	done
	if ((${#missing[@]} == 0)); then
		info "already installed"
	else
		info "installing ${missing[*]}"
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
	local tool
	for tool in node npm "$GO" gcc g++; do
		command -v "$tool" >/dev/null || die "'$tool' not found on PATH; install it (node 20 + npm, Go, a C/C++ toolchain) and rerun"
	done
	info "node $(node --version), npm $(npm --version), $("$GO" env GOVERSION)"
}

ort_arch() {
	case $(uname -m) in
	x86_64 | amd64) echo x64 ;;
	aarch64 | arm64) echo arm64 ;;
	*) die "no ONNX Runtime build in onnxruntime-node for $(uname -m)" ;;
	esac
}

install_onnxruntime() {
	step "ONNX Runtime $ORT_VERSION (CPU)"
	local lib=$EDGEINFER_HOME/lib/libonnxruntime.so
	local stamp=$EDGEINFER_HOME/lib/onnxruntime.version
	if [[ -f $lib && -f $stamp && $(<"$stamp") == "$ORT_VERSION" ]]; then
		info "already installed: $lib"
		return
	fi
	local tgz=$DOWNLOADS/onnxruntime-node-$ORT_VERSION.tgz
	if [[ ! -f $tgz ]]; then
		info "downloading onnxruntime-node@$ORT_VERSION with npm pack"
		mkdir -p "$DOWNLOADS"
		local tmp
		tmp=$(mktemp -d "$DOWNLOADS/.npm-pack.XXXXXX")
		# npm pack only fetches the tarball; npm install would run the package's
		# postinstall, which downloads CUDA files and fails offline.
		(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
		mv "$tmp/onnxruntime-node-$ORT_VERSION.tgz" "$tgz"
		rmdir "$tmp"
	else
		info "using cached $tgz"
	fi
	local member=package/bin/napi-v6/linux/$(ort_arch)/libonnxruntime.so.1
	mkdir -p "$EDGEINFER_HOME/lib"
	tar -xzOf "$tgz" "$member" >"$lib.tmp" || die "$member not found in $tgz"
	mv "$lib.tmp" "$lib"
	echo "$ORT_VERSION" >"$stamp"
	info "installed $lib ($(du -h "$lib" | cut -f1))"
}

# install_node puts node $NODE_VERSION at $EDGEINFER_HOME/node/bin/node, taken
# from the npm package node-linux-<arch> (the official build, nothing else in
# the package is used). The system node stays what it is.
install_node() {
	step "node $NODE_VERSION (for the compat tier)"
	local bin=$EDGEINFER_HOME/node/bin/node
	local stamp=$EDGEINFER_HOME/node/node.version
	if [[ -x $bin && -f $stamp && $(<"$stamp") == "$NODE_VERSION" ]]; then
		info "already installed: $bin"
		return
	fi
	local pkg=node-linux-$(ort_arch)
	local tgz=$DOWNLOADS/$pkg-$NODE_VERSION.tgz
	if [[ ! -f $tgz ]]; then
		info "downloading $pkg@$NODE_VERSION with npm pack"
		mkdir -p "$DOWNLOADS"
		local tmp
		tmp=$(mktemp -d "$DOWNLOADS/.npm-pack.XXXXXX")
		(cd "$tmp" && npm pack --silent "$pkg@$NODE_VERSION" >/dev/null)
		mv "$tmp/$pkg-$NODE_VERSION.tgz" "$tgz"
		rmdir "$tmp"
	else
		info "using cached $tgz"
	fi
	mkdir -p "$(dirname "$bin")"
	tar -xzOf "$tgz" package/bin/node >"$bin.tmp" || die "package/bin/node not found in $tgz"
	chmod +x "$bin.tmp"
	mv "$bin.tmp" "$bin"
	echo "$NODE_VERSION" >"$stamp"
	info "installed $bin ($("$bin" --version))"
}

# ollama_cflags prints the flags Ollama is compiled with. A plain `go build`
# compiles ggml for baseline x86-64 (SSE2: no AVX, F16C or FMA), which makes
# F16 inference several times slower; setup builds on the machine that runs
# the binary, so it targets that CPU. The CPU is named (znver3,
# sapphirerapids, ...) rather than -march=native because Go's build cache
# keys cgo objects by the flag text: a concrete name keeps objects built for
# one CPU from being reused on another, where they could die of SIGILL.
ollama_cflags() {
	if [[ -n $OLLAMA_CFLAGS ]]; then
		echo "$OLLAMA_CFLAGS"
		return
	fi
	local march
	march=$(gcc -march=native -Q --help=target 2>/dev/null | awk '$1 == "-march=" { print $2; exit }')
	echo "-O3 -march=${march:-native}"
}

# ollama_version prints the client version an ollama binary reports, e.g. 0.17.4.
ollama_version() {
	# Without a server running, --version prints a warning and "client version is X".
	"$1" --version 2>&1 | sed -n 's/.*version is \([0-9][0-9.]*\).*/\1/p' | head -n1
}

install_ollama() {
	step "Ollama $OLLAMA_VERSION"
	local bin=$EDGEINFER_HOME/bin/ollama
	local stamp=$EDGEINFER_HOME/bin/ollama.version
	local flags=$EDGEINFER_HOME/bin/ollama.cflags # how a built binary was compiled
	local cflags
	cflags=$(ollama_cflags)
	if [[ -x $bin && -f $stamp && $(<"$stamp") == "$OLLAMA_VERSION" ]] &&
		[[ -L $bin || (-f $flags && $(<"$flags") == "$cflags") ]]; then
		info "already installed: $bin"
		return
	fi
	mkdir -p "$EDGEINFER_HOME/bin"
	local system
	system=$(command -v ollama || true)
	if [[ -n $system && $system != "$bin" ]]; then
		local v
		v=$(ollama_version "$system")
		if [[ $v == 0.17.* ]]; then
			ln -sfn "$system" "$bin"
			echo "$v" >"$stamp"
			info "using the system ollama $v: $system (symlinked to $bin)"
			return
		fi
		info "system ollama at $system is version '${v:-unknown}', not 0.17.x: building $OLLAMA_VERSION"
	fi
	build_ollama "$bin" "$cflags"
	echo "$OLLAMA_VERSION" >"$stamp"
	echo "$cflags" >"$flags"
}

# build_ollama compiles the Ollama server (with llama.cpp through cgo) from
# the Go module cache. The module zip lacks llama.cpp's vendor/ headers, so
# stb_image.h comes from libstb-dev (already on the system include path) and
# miniaudio.h from the malgo module, through a shim include directory.
build_ollama() {
	local out=$1 cflags=$2
	local src malgo
	# GOWORK=off and GOFLAGS=-mod=mod: build Ollama as its own main module,
	# untouched by any workspace or vendoring settings of the caller.
	src=$(GOWORK=off GOFLAGS=-mod=mod "$GO" mod download -json "github.com/ollama/ollama@v$OLLAMA_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	malgo=$(GOWORK=off GOFLAGS=-mod=mod "$GO" mod download -json "github.com/gen2brain/malgo@$MALGO_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[[ -d $src && -f $malgo/miniaudio.h ]] || die "could not download the ollama/malgo Go modules"
	local shim=$CACHE_DIR/ollama-include
	mkdir -p "$shim/miniaudio"
	cp "$malgo/miniaudio.h" "$shim/miniaudio/miniaudio.h"
	info "building from $src with CGO_CFLAGS='$cflags' (a cold build takes minutes, Go's build cache makes later ones quick)"
	local start=$SECONDS
	(
		cd "$src"
		GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=1 CGO_CPPFLAGS="-I$shim" \
			CGO_CFLAGS="$cflags" CGO_CXXFLAGS="$cflags" \
			"$GO" build -o "$out.tmp" \
			-ldflags "-X github.com/ollama/ollama/version.Version=$OLLAMA_VERSION" .
	)
	mv "$out.tmp" "$out"
	info "built $out in $((SECONDS - start))s: $(ollama_version "$out")"
}

# synth_stamp identifies the generator's sources and assets, so the demo set
# is rebuilt exactly when what writes it changes.
synth_stamp() {
	(cd "$REPO_ROOT" && find models/synth -type f ! -name '*_test.go' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

# jpeg_build_tags prints the build tags that pick imageprep's JPEG decoder
# (the same test as the Makefile's): libjpeg-turbo through cgo when its
# headers are there, else Go's image/jpeg (-tags nolibjpeg).
jpeg_build_tags() {
	local cc
	read -ra cc <<<"$("$GO" env CC)" # may carry flags
	if [[ $("$GO" env CGO_ENABLED) == 1 ]] &&
		printf '#include <stdio.h>\n#include <jpeglib.h>\n' | "${cc[@]}" -E -x c - >/dev/null 2>&1; then
		return
	fi
	echo "-tags=nolibjpeg"
}

build_edgeinfer_and_models() {
	step "edgeinfer binary and synthetic demo models"
	if [[ ! -d $REPO_ROOT/cmd/edgeinfer ]]; then
		info "./cmd/edgeinfer does not exist yet: nothing to build or generate (no-op for now)"
		return
	fi
	local tags
	tags=$(jpeg_build_tags)
	(cd "$REPO_ROOT" && "$GO" build ${tags:+"$tags"} -o bin/edgeinfer ./cmd/edgeinfer)
	info "built $REPO_ROOT/bin/edgeinfer"
	if [[ -z $tags ]]; then
		info "JPEG decoder: libjpeg-turbo (cgo)"
	else
		info "JPEG decoder: Go's image/jpeg, about 5x slower: install libjpeg-dev (Debian's libjpeg62-turbo-dev) with cgo enabled and rerun for libjpeg-turbo"
	fi
	local models=$EDGEINFER_HOME/models
	local stamp=$models/.synth-tiny.stamp
	local want
	want=$(synth_stamp)
	if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
		info "demo models already generated by this synth version ($models)"
		return
	fi
	mkdir -p "$models"
	# Real model files and full-size synthetic ones already there are kept.
	"$REPO_ROOT/bin/edgeinfer" models synth --preset tiny --keep-full --out "$models"
	echo "$want" >"$stamp"
}

main() {
	local start=$SECONDS
	echo "edgeinfer setup: EDGEINFER_HOME=$EDGEINFER_HOME, cache=$CACHE_DIR"
	install_system_packages
	install_onnxruntime
	install_node
	if [[ ${GPU:-0} == 1 ]]; then "$REPO_ROOT/scripts/setup-gpu.sh"; fi # CUDA build of ONNX Runtime
	install_ollama
	build_edgeinfer_and_models
	echo "setup done in $((SECONDS - start))s"
}

main "$@"
