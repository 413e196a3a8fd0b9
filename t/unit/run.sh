#!/usr/bin/env bash
# Unit tests of the pure-C parts, built with ASan and UBSan, against vectors
# from independent implementations.  Prints TAP (run by t/010-unit.t).
#
#   t/unit/run.sh [k8s|jose]...      (default: both)
#
#   k8s   ngx_kedge_module/ngx_kedge_k8s.c: vectors from python3-protobuf
#         (t/unit/make_vectors.py)
#   jose  ngx_kedge_module/ngx_kedge_jose.c: keys and tokens from node's
#         crypto, npm jose and t/fixtures/oidc/mint.mjs
#         (t/unit/make_jose_vectors.mjs; runs t/fixtures/oidc/install.sh)
#
# One suite prints its own TAP; several print each as a subtest (indented,
# then "ok N - SUITE"), then "1..N".  The exit status is 0 iff all passed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$repo/build/unit

# shellcheck disable=SC2054
cc=(gcc -std=c99 -D_DEFAULT_SOURCE -g -O1 -Wall -Wextra -Werror
    -fsanitize=address,undefined -fno-sanitize-recover=all
    -I "$repo/ngx_kedge_module")

k8s() {
    mkdir -p "$build/c" "$build/py" "$build/vectors"

    protos=$(cd "$repo/proto" && find . -name '*.proto' | sed 's|^\./||' | sort)

    # shellcheck disable=SC2086
    (cd "$repo/proto" && protoc-c --c_out="$build/c" $protos \
        && protoc --python_out="$build/py" $protos)

    /usr/bin/python3 "$repo/t/unit/make_vectors.py" "$build/py" \
        "$build/vectors"

    # shellcheck disable=SC2046
    "${cc[@]}" -I "$build/c" \
        -o "$build/k8s_test" "$repo/t/unit/k8s_test.c" \
        "$repo/ngx_kedge_module/ngx_kedge_k8s.c" \
        $(cd "$build/c" && find "$build/c" -name '*.pb-c.c' | sort) \
        -lprotobuf-c

    ASAN_OPTIONS=detect_leaks=1 "$build/k8s_test" "$build/vectors"
}

jose() {
    mkdir -p "$build"

    "$repo/t/fixtures/oidc/install.sh"
    node "$repo/t/unit/make_jose_vectors.mjs" "$build/jose-vectors"

    # malloc() and calloc() wrapped: the test fails them one by one
    "${cc[@]}" -o "$build/jose_test" "$repo/t/unit/jose_test.c" \
        "$repo/ngx_kedge_module/ngx_kedge_jose.c" \
        -Wl,--wrap=malloc,--wrap=calloc -ljansson -lcjose -lcrypto -lm

    ASAN_OPTIONS=detect_leaks=1 "$build/jose_test" "$build/jose-vectors"
}

[ $# -gt 0 ] || set -- k8s jose

for suite in "$@"; do
    case $suite in
        k8s|jose) ;;
        *) echo "usage: t/unit/run.sh [k8s|jose]..." >&2; exit 2 ;;
    esac
done

if [ $# -eq 1 ]; then
    case $1 in
        k8s) k8s ;;
        jose) jose ;;
    esac
    exit
fi

n=0
failed=0
for suite in "$@"; do
    n=$((n + 1))
    echo "# Subtest: $suite"
    # a process of its own, so that "set -e" holds in it
    if bash "$0" "$suite" | sed 's/^/    /'; then
        echo "ok $n - $suite"
    else
        echo "not ok $n - $suite"
        failed=1
    fi
done
echo "1..$n"

exit $failed
