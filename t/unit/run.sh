#!/usr/bin/env bash
# Unit tests of the pure-C parts (ngx_kedge_module/ngx_kedge_k8s.c), built
# with ASan and UBSan, against vectors from an independent encoder.
# Prints TAP (run by t/010-unit.t).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$repo/build/unit
mkdir -p "$build/c" "$build/py" "$build/vectors"

protos=$(cd "$repo/proto" && find . -name '*.proto' | sed 's|^\./||' | sort)

(cd "$repo/proto" && protoc-c --c_out="$build/c" $protos \
    && protoc --python_out="$build/py" $protos)

/usr/bin/python3 "$repo/t/unit/make_vectors.py" "$build/py" "$build/vectors"

gcc -std=c99 -D_DEFAULT_SOURCE -g -O1 -Wall -Wextra -Werror \
    -fsanitize=address,undefined -fno-sanitize-recover=all \
    -I "$build/c" -I "$repo/ngx_kedge_module" \
    -o "$build/k8s_test" "$repo/t/unit/k8s_test.c" \
    "$repo/ngx_kedge_module/ngx_kedge_k8s.c" \
    $(cd "$build/c" && find "$build/c" -name '*.pb-c.c' | sort) \
    -lprotobuf-c

ASAN_OPTIONS=detect_leaks=1 "$build/k8s_test" "$build/vectors"
