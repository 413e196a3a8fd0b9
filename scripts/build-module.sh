#!/usr/bin/env bash
# Builds ngx_http_kedge_module.so against Debian's nginx (nginx-dev).
#
#   scripts/build-module.sh [BUILD_DIR]
#
# nginx's configure must run inside an nginx source tree, so Debian's
# /usr/share/nginx/src is copied to BUILD_DIR (default build/nginx) once;
# configure runs again only when our "config" changes.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build/nginx}
src=/usr/share/nginx/src

if [ ! -f "$src/conf_flags" ]; then
    echo "build-module: $src/conf_flags missing: apt-get install nginx-dev" >&2
    exit 1
fi

# Debian's own hardening flags, plus ours: no warning survives
cc_opt="-g -O2 -fstack-protector-strong -Wformat -Werror=format-security"
cc_opt="$cc_opt -fPIC -Wdate-time -D_FORTIFY_SOURCE=2"
cc_opt="$cc_opt -Wall -Wextra -Werror"
ld_opt="-Wl,-z,relro -Wl,-z,now -fPIC"

if [ ! -f "$build/configure" ]; then
    mkdir -p "$build"
    cp -r "$src/." "$build/"
fi

# configure again when "config" or the schemas it compiles changed
stale=$(find "$repo/config" "$repo/proto" -newer "$build/objs/Makefile" 2>/dev/null | head -n 1 || true)

if [ ! -f "$build/objs/Makefile" ] || [ -n "$stale" ]; then
    # shellcheck disable=SC1091
    . "$src/conf_flags"
    (cd "$build" && ./configure "${NGX_CONF_FLAGS[@]}" \
        --with-cc-opt="$cc_opt" --with-ld-opt="$ld_opt" \
        --add-dynamic-module="$repo" > configure.log 2>&1) || {
        tail -n 30 "$build/configure.log" >&2
        exit 1
    }
fi

make -C "$build" -f objs/Makefile modules >/dev/null
echo "$build/objs/ngx_http_kedge_module.so"
