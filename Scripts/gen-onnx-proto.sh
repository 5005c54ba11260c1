#!/usr/bin/env bash
# Regenerates Sources/KilnONNXProto/Generated/onnx.pb.swift from onnx.proto.
#
# Needs: protoc (apt-get install protobuf-compiler) and protoc-gen-swift 1.39.0, built from a
# checkout of apple/swift-protobuf at tag 1.39.0 (`swift build -c release --product protoc-gen-swift`).
# Usage: Scripts/gen-onnx-proto.sh PATH/TO/protoc-gen-swift [PATH/TO/onnx.proto]
# Without the second argument, onnx.proto is taken from the installed `onnx` Python package.
set -euo pipefail
plugin=${1:?usage: gen-onnx-proto.sh PATH/TO/protoc-gen-swift [onnx.proto]}
root=$(cd "$(dirname "$0")/.." && pwd)
target="$root/Sources/KilnONNXProto"
proto=${2:-$(python3 -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "onnx.proto"))')}
cp "$proto" "$target/onnx.proto"
mkdir -p "$target/Generated"
cd "$target"
protoc --plugin=protoc-gen-swift="$plugin" --swift_out=Generated --swift_opt=Visibility=Public onnx.proto
echo "wrote $target/Generated/onnx.pb.swift ($(wc -l < Generated/onnx.pb.swift) lines)"
