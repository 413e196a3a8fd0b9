#!/usr/bin/env bash
# Fuzzes the Kubernetes protobuf decoder (ngx_kedge_module/ngx_kedge_k8s.c)
# with libFuzzer + ASan + UBSan + LeakSanitizer: t/fuzz/README.md.
#
#   scripts/fuzz.sh [SECONDS]          (default 30)
#
# 1. installs what is missing (t/fuzz/packages.txt: clang, libFuzzer, ...);
# 2. generates the protobuf-c code into build/fuzz/c, as t/unit/run.sh does;
# 3. builds protobuf-c itself from Debian's source of the installed version
#    with the same instrumentation, when "apt-get source" can (else links
#    the system's libprotobuf-c: the fuzzer then sees none of its code);
# 4. builds build/fuzz/fuzz_k8s;
# 5. replays t/fuzz/corpus/ (the regression inputs) and the seeds of
#    t/unit/make_vectors.py (build/fuzz/seeds), once each;
# 6. fuzzes for SECONDS, growing build/fuzz/corpus.
#
# Exits non-zero on any crash, leak, UBSan report, contract violation of the
# decoder, timeout or out-of-memory; the input is kept in
# build/fuzz/crashes/ and its path printed.
#
#   FUZZ_PROTOBUF_C=system    link the system's libprotobuf-c (skip 3.)
#   FUZZ_JOBS=N               N fuzzing processes in parallel (default 1)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

secs=${1:-30}
case $secs in
    ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;;
esac

build=$repo/build/fuzz
crashes=$build/crashes
say() { echo "fuzz: $*" >&2; }

started=$(date +%s)

# --- 1. packages ------------------------------------------------------------

scripts/deps.sh t/fuzz/packages.txt

mkdir -p "$build/c" "$build/py" "$build/seeds" "$build/corpus" "$crashes"

# --- 2. protobuf-c code -----------------------------------------------------

mapfile -t protos < <(cd proto && find . -name '*.proto' -printf '%P\n' | sort)

(cd proto && protoc-c --c_out="$build/c" "${protos[@]}" \
    && protoc --python_out="$build/py" "${protos[@]}")

/usr/bin/python3 t/unit/make_vectors.py "$build/py" "$build/seeds"

# --- 3. protobuf-c, instrumented --------------------------------------------

pbc_src=
if [ "${FUZZ_PROTOBUF_C:-}" != system ]; then
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

# --- 4. the fuzzer ----------------------------------------------------------

# shellcheck disable=SC2054
flags=(-std=c99 -D_DEFAULT_SOURCE -g -O1 -Wall -Wextra -Werror
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -fno-omit-frame-pointer)

cc=(clang "${flags[@]}" -I "$build/c" -I ngx_kedge_module)

if [ -n "$pbc_src" ]; then
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

mapfile -t gen < <(find "$build/c" -name '*.pb-c.c' | sort)

"${cc[@]}" -o "$build/fuzz_k8s" \
    t/fuzz/fuzz_k8s.c ngx_kedge_module/ngx_kedge_k8s.c "${gen[@]}" "${pbc[@]}"

built=$(date +%s)
say "built build/fuzz/fuzz_k8s in $((built - started)) s"

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
        say "replay: build/fuzz/fuzz_k8s $a"
    done
    exit 1
}

common=(-max_len=65536 -timeout=5 -rss_limit_mb=2048
        -dict=t/fuzz/k8s.dict -artifact_prefix="$crashes/")

say "replaying t/fuzz/corpus and the seeds"
if ! "$build/fuzz_k8s" "${common[@]}" -runs=0 \
        t/fuzz/corpus "$build/seeds" >"$build/replay.log" 2>&1; then
    tail -n 60 "$build/replay.log" >&2
    failed "a regression input or seed, log: build/fuzz/replay.log"
fi

say "fuzzing for $secs s (log: build/fuzz/fuzz.log)"
jobs=(-max_total_time="$secs")
if [ "${FUZZ_JOBS:-1}" -gt 1 ]; then
    jobs+=(-fork="$FUZZ_JOBS" -ignore_crashes=0 -ignore_timeouts=0
           -ignore_ooms=0)
fi

rc=0
"$build/fuzz_k8s" "${common[@]}" "${jobs[@]}" -print_final_stats=1 \
    "$build/corpus" t/fuzz/corpus "$build/seeds" >"$build/fuzz.log" 2>&1 \
    || rc=$?

grep -E '^#[0-9]+[[:space:]]+DONE|stat::(number_of_executed_units|peak_rss)' \
    "$build/fuzz.log" >&2 || true

if [ $rc -ne 0 ] || [ -n "$(artifacts)" ]; then
    grep -E -A 40 '^==[0-9]+== ?ERROR|runtime error|contract violated' \
        "$build/fuzz.log" | head -n 80 >&2 || tail -n 60 "$build/fuzz.log" >&2
    failed "exit code $rc, log: build/fuzz/fuzz.log"
fi

say "ok: no crash, leak or UBSan report in $secs s" \
    "($(( $(date +%s) - started )) s in all," \
    "corpus: $(find "$build/corpus" -type f | wc -l) inputs)"
