#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the module, checks the
# style, runs the Test::Nginx suites under t/ against Debian's nginx, and
# the self-tests of the harness and of the gRPC peers.
#
#   scripts/test.sh            Debian's nginx + our module
#   scripts/test.sh --asan     nginx and the module built with ASan+UBSan
#   scripts/test.sh [--asan] t/003-balancer.t ...   only these suites
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

asan=0
if [ "${1:-}" = "--asan" ]; then
    asan=1
    shift
fi

scripts/deps.sh
scripts/check-style.sh

if [ $asan = 1 ]; then
    scripts/build-asan.sh
    # shellcheck disable=SC1091
    . scripts/asan-env.sh
else
    export TEST_NGINX_BINARY=/usr/sbin/nginx
    TEST_NGINX_LOAD_MODULES=$(scripts/build-module.sh)
    export TEST_NGINX_LOAD_MODULES
fi

# nothing of an earlier, interrupted run may hold the test ports
if [ -f t/servroot/logs/nginx.pid ]; then
    kill "$(cat t/servroot/logs/nginx.pid)" 2>/dev/null || true
fi

if [ $# -eq 0 ]; then
    t/harness-selftest.sh
    t/peers/selftest.sh
    t/k8s-fixture-selftest.sh
    t/oidc-fixture-selftest.sh

    # the fuzz targets of the Kubernetes decoder and of the JOSE checks:
    # each replays its corpus, then fuzzes for 30 s (60 s in all)
    scripts/fuzz.sh "${KEDGE_FUZZ_SECONDS:-30}"

    set -- t/
fi

# last, so that its summary closes the output
prove -I t/lib -r "$@"
