#!/usr/bin/env bash
# Fuzzes, with libFuzzer + ASan + UBSan + LeakSanitizer (t/fuzz/README.md):
#   k8s   the Kubernetes protobuf decoder (ngx_kedge_module/ngx_kedge_k8s.c),
#   jose  the JWK Set and JWT checks (ngx_kedge_module/ngx_kedge_jose.c).
#
#   scripts/fuzz.sh [SECONDS]          (default 30, for each target)
#
# 1. installs what is missing (t/fuzz/packages.txt: clang, libFuzzer, ...);
# 2. k8s: generates the protobuf-c code into build/fuzz/c, as t/unit/run.sh
#    does, and the seeds of t/unit/make_vectors.py (build/fuzz/seeds);
#    jose: the seeds of t/unit/make_jose_vectors.mjs, signed with the keys
#    of t/fuzz/jose-keys.json (build/fuzz/jose-seeds; node, npm jose);
# 3. builds protobuf-c itself from Debian's source of the installed version
#    with the same instrumentation, when "apt-get source" can (else links
#    the system's libprotobuf-c: the fuzzer then sees none of its code);
#    jansson, cjose and OpenSSL are the system's, not instrumented;
# 4. builds build/fuzz/fuzz_k8s and build/fuzz/fuzz_jose;
# 5. for each target: replays its regression inputs (t/fuzz/corpus/,
#    t/fuzz/corpus-jose/) and its seeds, once each;
# 6. then fuzzes it for SECONDS, growing build/fuzz/corpus (k8s) or
#    build/fuzz/corpus-jose.
#
# Exits non-zero on any crash, leak, UBSan report, contract violation,
# timeout or out-of-memory; the input is kept in build/fuzz/crashes/
# (jose-... for fuzz_jose) and its path printed.
#
#   FUZZ_TARGETS="k8s jose"   the targets to build and run (default both)
#   FUZZ_PROTOBUF_C=system    link the system's libprotobuf-c (skip 3.)
#   FUZZ_JOBS=N               N fuzzing processes in parallel (default 1)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

secs=${1:-30}
case $secs in
    ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac

read -r -a targets <<< "${FUZZ_TARGETS:-k8s jose}"
want() { [[ " ${targets[*]} " == *" $1 "* ]]; }
for t in "${targets[@]}"; do
    case $t in
        k8s|jose) ;;
        *) echo "scripts/fuzz.sh: unknown target $t (k8s, jose)" >&2; exit 2 ;;
    esac
done

build=$repo/build/fuzz
crashes=$build/crashes
say() { echo "fuzz: $*" >&2; }

started=$(date +%s)

# --- 1. packages ------------------------------------------------------------

scripts/deps.sh t/fuzz/packages.txt

mkdir -p "$build/c" "$build/py" "$build/seeds" "$build/corpus" \
    "$build/corpus-jose" "$crashes"

# --- 2. protobuf-c code, seeds ----------------------------------------------

if want k8s; then
    mapfile -t protos < <(cd proto && find . -name '*.proto' -printf '%P\n' \
                          | sort)

    (cd proto && protoc-c --c_out="$build/c" "${protos[@]}" \
        && protoc --python_out="$build/py" "${protos[@]}")

    /usr/bin/python3 t/unit/make_vectors.py "$build/py" "$build/seeds"
fi

if want jose; then
    t/fixtures/oidc/install.sh
    node t/unit/make_jose_vectors.mjs "$build/jose-vectors" \
        --fuzz-keys t/fuzz/jose-keys.json --seeds "$build/jose-seeds"
fi

# --- 3. protobuf-c, instrumented --------------------------------------------

pbc_src=
if want k8s && [ "${FUZZ_PROTOBUF_C:-}" != system ]; then
    version=$(dpkg-query -W -f='${source:Version}' libprotobuf-c-dev)
    pbc_dir=$build/src/$version

    fetch() {
        rm -rf "$pbc_dir" && mkdir -p "$pbc_dir" \
        && (cd "$pbc_dir" \
            && apt-get source -qq "protobuf-c=$version" >/dev/null 2>&1)
    }

    find_src() {
        find "$pbc_dir" -maxdepth 3 -path '*/protobuf-c/protobuf-c.c' \
            2>/dev/null | head -n 1 || true
    }

    pbc_src=$(find_src)

    # the Sources lists may be missing or old: update once, then retry
    if [ -z "$pbc_src" ] \
       && { fetch || { apt-get update -qq && fetch; }; }
    then
        pbc_src=$(find_src)
    fi

    if [ -z "$pbc_src" ]; then
        say "no source of protobuf-c $version (apt-get source, deb-src):"
        say "linking the system's libprotobuf-c, not instrumented"
    fi
fi

# --- 4. the fuzzers ---------------------------------------------------------

# shellcheck disable=SC2054
flags=(-std=c99 -D_DEFAULT_SOURCE -g -O1 -Wall -Wextra -Werror
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -fno-omit-frame-pointer)

cc=(clang "${flags[@]}" -I "$build/c" -I ngx_kedge_module)

if ! want k8s; then
    :
elif [ -n "$pbc_src" ]; then
    # upstream code, the same version as /usr/include's headers: built
    # alone, its warnings are not ours to fail on; and its known, harmless
    # "left shift of 127 by 25 places" in parse_tag_and_wiretype() (its
    # issue 506, unfixed in 1.4.1) is not reported, else every run stops
    # there within seconds
    "${cc[@]}" -Wno-error -w -fno-sanitize=shift-base \
        -I "$(dirname "$(dirname "$pbc_src")")" \
        -c -o "$build/protobuf-c.o" "$pbc_src"
    pbc=("$build/protobuf-c.o")
    say "protobuf-c: instrumented, from ${pbc_src#"$repo"/}"
else
    pbc=(-lprotobuf-c)
    say "protobuf-c: the system's library"
fi

if want k8s; then
    mapfile -t gen < <(find "$build/c" -name '*.pb-c.c' | sort)

    "${cc[@]}" -o "$build/fuzz_k8s" \
        t/fuzz/fuzz_k8s.c ngx_kedge_module/ngx_kedge_k8s.c "${gen[@]}" \
        "${pbc[@]}"
fi

if want jose; then
    # fuzz_jose.c includes ngx_kedge_jose.c (for its static functions);
    # jansson, cjose and OpenSSL: the system's, not instrumented
    "${cc[@]}" -o "$build/fuzz_jose" t/fuzz/fuzz_jose.c \
        -ljansson -lcjose -lcrypto -lm
fi

built=$(date +%s)
say "built ${targets[*]/#/build/fuzz/fuzz_} in $((built - started)) s"

# --- 5. and 6. run ----------------------------------------------------------

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

stamp=$build/.stamp
touch "$stamp"
sleep 1                         # artifacts newer than the stamp are ours

artifacts() {
    find "$crashes" -type f -newer "$stamp" | sort
}

failed() {
    say "FAILED ($1)"
    local a
    for a in $(artifacts); do
        say "input: $a"
        case $a in
            */jose-*) say "replay: build/fuzz/fuzz_jose $a" ;;
            *) say "replay: build/fuzz/fuzz_k8s $a" ;;
        esac
    done
    exit 1
}

jobs=(-max_total_time="$secs")
if [ "${FUZZ_JOBS:-1}" -gt 1 ]; then
    jobs+=(-fork="$FUZZ_JOBS" -ignore_crashes=0 -ignore_timeouts=0
           -ignore_ooms=0)
fi

# run TARGET DICT PREFIX LOG-SUFFIX CORPUS REGRESSION SEEDS
run() {
    local target=$1 dict=$2 prefix=$3 log=$4 corpus=$5 regress=$6 seeds=$7
    local common rc

    common=(-max_len=65536 -timeout=5 -rss_limit_mb=2048
            -dict="$dict" -artifact_prefix="$crashes/$prefix")

    say "$target: replaying ${regress} and the seeds"
    if ! "$build/$target" "${common[@]}" -runs=0 \
            "$regress" "$seeds" >"$build/replay$log.log" 2>&1; then
        tail -n 60 "$build/replay$log.log" >&2
        failed "a regression input or seed, log: build/fuzz/replay$log.log"
    fi

    say "$target: fuzzing for $secs s (log: build/fuzz/fuzz$log.log)"

    rc=0
    "$build/$target" "${common[@]}" "${jobs[@]}" -print_final_stats=1 \
        "$corpus" "$regress" "$seeds" >"$build/fuzz$log.log" 2>&1 \
        || rc=$?

    grep -E '^#[0-9]+[[:space:]]+DONE|stat::(number_of_executed_units|peak_rss)' \
        "$build/fuzz$log.log" >&2 || true

    if [ $rc -ne 0 ] || [ -n "$(artifacts)" ]; then
        grep -E -A 40 '^==[0-9]+== ?ERROR|runtime error|contract violated' \
            "$build/fuzz$log.log" | head -n 80 >&2 \
            || tail -n 60 "$build/fuzz$log.log" >&2
        failed "$target: exit code $rc, log: build/fuzz/fuzz$log.log"
    fi

    say "$target: ok: no crash, leak or UBSan report in $secs s" \
        "(corpus: $(find "$corpus" -type f | wc -l) inputs)"
}

if want k8s; then
    run fuzz_k8s t/fuzz/k8s.dict "" "" "$build/corpus" t/fuzz/corpus \
        "$build/seeds"
fi

if want jose; then
    run fuzz_jose t/fuzz/jose.dict jose- -jose "$build/corpus-jose" \
        t/fuzz/corpus-jose "$build/jose-seeds"
fi

say "ok: ${targets[*]}, $secs s each, $(( $(date +%s) - started )) s in all"
