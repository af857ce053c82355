#!/bin/sh
# Regenerates the Python gRPC stubs shipped in the actserve package
# (client/python/actserve/v1/) from proto/actserve/v1/actserve.proto.
# Run it after changing the proto, and commit the result; CTest's
# client_python_stubs_current fails while they differ.
#
# Needs protoc and grpc_python_plugin (Debian: protobuf-compiler,
# protobuf-compiler-grpc). Usage: generate_stubs.sh [OUTPUT_DIR]; the
# default is the package itself.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$here}"
plugin="$(command -v grpc_python_plugin)" || {
  echo "generate_stubs.sh: grpc_python_plugin not found (apt-get install protobuf-compiler-grpc)" >&2
  exit 1
}
# protoc names the modules after the proto's path, actserve/v1/, which is
# this package's subpackage actserve.v1.
protoc --proto_path="$root/proto" --python_out="$out" \
  --grpc_python_out="$out" --plugin=protoc-gen-grpc_python="$plugin" \
  "$root/proto/actserve/v1/actserve.proto"
