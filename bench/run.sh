#!/usr/bin/env bash
# The benchmark: ngx_kedge_module against plain NGINX (the baseline), an
# ingress-nginx style balancer_by_lua and HAProxy, on loopback, in one run.
# Writes bench/RESULTS.md.  Needs root (packages, file limits, dnsmasq) and 2 cores.
#
#   bench/run.sh                 full run, about 15 minutes on a quiet machine
#   bench/run.sh --quick         fewer variants, 3 rounds of 1 s: 4 to 13 minutes
#   bench/run.sh --groups proxy,routes --rounds 5 --duration 3
#                                groups: proxy routes endpoints propagation jwt callgrind
#
# Nothing else may load the machine meanwhile: the figures are only as
# good as the two cores are quiet.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

scripts/deps.sh scripts/packages.txt bench/packages.txt
module=$(scripts/build-module.sh)
scripts/make-certs.sh "$repo/build/certs"

mkdir -p build/bench
gcc -O2 -Wall -Wextra -Werror -shared -fPIC -o build/bench/clientcert.so \
    bench/tools/clientcert.c -ldl

exec /usr/bin/python3 bench/bench.py --module "$module" "$@"
