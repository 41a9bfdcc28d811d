#!/usr/bin/env bash
# Regenerates the Go types for the ONNX protobuf schema in models/onnxfile from Debian's
# libonnx-dev copy of onnx.proto. Needs: apt-get install libonnx-dev protobuf-compiler.
# protoc-gen-go is pinned to the google.golang.org/protobuf version in go.mod.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
src=${ONNX_PROTO:-/usr/include/onnx/onnx.proto}
out=$root/models/onnxfile
gen_version=$(cd "$root" && go list -m -f '{{.Version}}' google.golang.org/protobuf)

[ -f "$src" ] || { echo "missing $src: apt-get install libonnx-dev" >&2; exit 1; }
command -v protoc >/dev/null || { echo "missing protoc: apt-get install protobuf-compiler" >&2; exit 1; }

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin go install "google.golang.org/protobuf/cmd/protoc-gen-go@$gen_version"

# The proto package is renamed from "onnx" to "edgeinfer.onnx": protobuf-go panics at
# start-up when two linked packages register the same full message names, and other
# Go ONNX libraries register "onnx.*". Field numbers, and so the wire format, are unchanged.
sed -e 's/^package onnx;$/package edgeinfer.onnx;/' "$src" >"$out/onnx.proto"

cd "$out"
PATH=$bin:$PATH protoc -I . \
	--go_out=. --go_opt=paths=source_relative \
	--go_opt=Monnx.proto=github.com/edgeinfer/edgeinfer/models/onnxfile \
	onnx.proto
echo "generated $out/onnx.pb.go from $src ($(grep -m1 -o 'IR_VERSION = 0x[0-9a-fA-F]*' "$src"))"
