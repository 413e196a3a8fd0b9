#!/usr/bin/env bash
# Builds nginx 1.22.1 and ngx_http_kedge_module.so from source with
# AddressSanitizer + UndefinedBehaviorSanitizer, for running the whole
# Test::Nginx suite against (source scripts/asan-env.sh first).
#
#   scripts/build-asan.sh [BUILD_DIR]          (default: build/asan)
#
# Outputs BUILD_DIR/sbin/nginx and BUILD_DIR/modules/ngx_http_kedge_module.so
# (BUILD_DIR is also the compiled-in --prefix; tests override it with -p).
#
# Idempotent: the source tarball is downloaded once (BUILD_DIR/src), unpacked
# once, configure reruns only when our "config", the flags below or this
# script's configure arguments change, and make only recompiles what changed
# (e.g. ngx_kedge_module/*.c or its header).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build/asan}
mkdir -p "$build"
build=$(cd "$build" && pwd)

version=1.22.1                  # = Debian bookworm's nginx (nginx -v)
cache=$build/src                # apt-get source download dir
srcdir=$build/nginx-$version    # unpacked tree, configured and built in place
orig=$cache/nginx_$version.orig.tar.gz

say() { echo "build-asan: $*" >&2; }
die() { say "error: $*"; exit 1; }

# --- 1. packages --------------------------------------------------------------

missing=()
# shellcheck disable=SC2013  # one package name per word is intended
for pkg in $(sed 's/#.*//' "$repo/scripts/asan-packages.txt"); do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null \
        | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] \
        || die "missing packages (run as root to install): ${missing[*]}"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The tarball must be the version Debian ships (and that the rest of the
# project builds the module against through nginx-dev).
if command -v nginx >/dev/null 2>&1; then
    installed=$(nginx -v 2>&1 | sed -n 's|^nginx version: nginx/||p')
    [ "$installed" = "$version" ] \
        || die "installed nginx is '$installed', this script builds $version"
fi

# --- 2. source: Debian's orig tarball ----------------------------------------

have_deb_src() {
    grep -qsE '^[[:space:]]*Types:.*\bdeb-src\b' \
            /etc/apt/sources.list.d/*.sources \
        || grep -qsE '^[[:space:]]*deb-src[[:space:]]' \
            /etc/apt/sources.list /etc/apt/sources.list.d/*.list
}

if [ ! -s "$orig" ]; then
    [ "$(id -u)" -eq 0 ] || die "$orig missing; run as root to download it"
    export DEBIAN_FRONTEND=noninteractive
    need_update=no
    if ! have_deb_src; then
        if [ -f /etc/apt/sources.list.d/debian.sources ]; then
            say "adding /etc/apt/sources.list.d/debian-src.sources"
            sed 's/^\([[:space:]]*Types:\).*/\1 deb-src/' \
                /etc/apt/sources.list.d/debian.sources \
                > /etc/apt/sources.list.d/debian-src.sources
        elif grep -qsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
            say "adding /etc/apt/sources.list.d/debian-src.list"
            sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' \
                /etc/apt/sources.list \
                > /etc/apt/sources.list.d/debian-src.list
        else
            die "no apt source to derive a deb-src entry from"
        fi
        need_update=yes
    fi
    # a deb-src entry that was never fetched has no Sources index yet
    if ! ls /var/lib/apt/lists/*_Sources* >/dev/null 2>&1; then
        need_update=yes
    fi
    if [ $need_update = yes ]; then
        say "apt-get update"
        apt-get update -qq
    fi

    mkdir -p "$cache"
    say "apt-get source --download-only nginx (in $cache)"
    # apt-get downloads the .dsc, the orig tarball and the Debian tarball;
    # only the orig tarball is used.  apt-get may fail after fetching it
    # (seen: a 404 on the security archive's nginx_*.debian.tar.xz), so its
    # status is ignored and the tarball itself is checked instead.  apt
    # verifies every downloaded file against the Sources index hashes.
    rc=0
    (cd "$cache" && apt-get source --download-only nginx) \
        > "$cache/apt-get-source.log" 2>&1 || rc=$?
    if [ ! -s "$orig" ]; then
        tail -n 20 "$cache/apt-get-source.log" >&2
        die "apt-get source did not deliver $(basename "$orig") (status $rc)"
    fi
    [ $rc -eq 0 ] || say "apt-get source failed (status $rc) but the orig" \
        "tarball arrived; ignoring (see $cache/apt-get-source.log)"
fi

# The tarball must hold exactly nginx-$version.
# (sed, not head: head would SIGPIPE tar and trip pipefail)
top=$(tar -tzf "$orig" | sed -n '1s|/.*||p')
[ "$top" = "nginx-$version" ] || die "$orig unpacks to '$top', not nginx-$version"
tar -xzOf "$orig" "nginx-$version/src/core/nginx.h" \
    | grep -q "^#define NGINX_VERSION  *\"$version\"" \
    || die "$orig: src/core/nginx.h is not version $version"

if [ ! -f "$srcdir/.unpacked" ]; then
    say "unpacking $(basename "$orig")"
    rm -rf "$srcdir"
    tar -xzf "$orig" -C "$build"
    touch "$srcdir/.unpacked"
fi

# --- 3. configure --------------------------------------------------------------

# -O1: keeps the stacks readable while ASan stays usable speed-wise.
# -fno-omit-frame-pointer: fast, complete frame-pointer unwinding in reports.
# -fsanitize=address,undefined: ASan + the default UBSan check set of gcc 12
#   (shift, signed overflow, null, alignment, bounds, object-size, ...).
#
# -fno-sanitize-recover=all: a UBSan finding prints its report and kills
#   the process (exit code 1), like an ASan finding.  Detection then never
#   depends on where the report went: in gcc 12 UBSan's "runtime error:"
#   text always goes to stderr (UBSAN_OPTIONS log_path only redirects the
#   ASan/LSan reports), which is error.log once nginx has redirected its
#   stderr, but the test runner's terminal for anything found while the
#   configuration is parsed (our directive handlers).  A dead worker also
#   leaves "[alert] ... worker process ... exited with code 1" in error.log
#   and a failed request; a dead master means nginx does not start.
# -fsanitize-recover=alignment,nonnull-attribute: except these two classes,
#   which must stay recoverable because nginx core trips them on purpose
#   and scripts/ubsan.supp suppresses those spots: gcc's UBSan runtime
#   still kills the process for a *suppressed* finding of a non-recoverable
#   check (checked: silently, exit code 1).  Unsuppressed findings of these
#   two classes (e.g. in ngx_kedge_module/*.c) are printed to error.log and
#   the runner fails the block on "runtime error:".
#
# No -D_FORTIFY_SOURCE: the fortified libc wrappers hide some accesses from
# ASan's interceptors and checks.
#
# nginx's own flags (-W -Wall -Werror -g, -O which ours overrides) stay.
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
san="$san -fsanitize-recover=alignment,nonnull-attribute"
cc_opt="-O1 -g -fno-omit-frame-pointer $san"
# same sanitizer flags at link time, so gcc links libasan and libubsan into
# nginx and into the module (.so), which is linked with the same LINK line.
ld_opt="$san"

# Like Debian's build where it matters (nginx -V): --with-compat so the
# module's ABI signature matches a Debian-style binary, --with-debug for
# debug logs, the same core HTTP modules, stream as a dynamic module.
# Paths stay under the prefix (the tests run with -p t/servroot).  Left out:
# modules that need extra libraries (geoip, image_filter, xslt, perl) and mail.
conf_args=(
    --prefix="$build"
    --with-cc-opt="$cc_opt"
    --with-ld-opt="$ld_opt"
    --with-compat
    --with-debug
    --with-threads
    --with-pcre-jit
    --with-http_ssl_module
    --with-http_v2_module
    --with-http_realip_module
    --with-http_auth_request_module
    --with-http_stub_status_module
    --with-http_sub_module
    --with-http_gunzip_module
    --with-http_gzip_static_module
    --with-http_slice_module
    --with-http_secure_link_module
    --with-http_addition_module
    --with-http_dav_module
    --with-stream=dynamic
    --with-stream_ssl_module
    --with-stream_ssl_preread_module
    --with-stream_realip_module
    --add-dynamic-module="$repo"
)
args_file=$build/configure.args
printf '%s\n' "${conf_args[@]}" > "$args_file.new"

if [ ! -f "$srcdir/objs/Makefile" ] \
        || ! cmp -s "$args_file.new" "$args_file" \
        || [ "$repo/config" -nt "$srcdir/objs/Makefile" ]; then
    say "configure"
    (cd "$srcdir" && ./configure "${conf_args[@]}") \
        > "$build/configure.log" 2>&1 || {
        tail -n 30 "$build/configure.log" >&2
        rm -f "$args_file"
        die "configure failed (see $build/configure.log)"
    }
    mv "$args_file.new" "$args_file"
else
    rm -f "$args_file.new"
fi

# --- 4. make -------------------------------------------------------------------

say "make"
start=$(date +%s)
make -C "$srcdir" -f objs/Makefile -j"$(nproc)" > "$build/make.log" 2>&1 || {
    grep -E 'error|Error' "$build/make.log" | head -n 30 >&2
    die "make failed (see $build/make.log)"
}
say "make done in $(( $(date +%s) - start ))s"

# "make install" would recopy everything each time; copy what changed.
# Only what a test server root needs: the binary, the modules, mime.types.
put() {   # src dst
    if ! cmp -s "$1" "$2"; then
        install -D -m "$3" "$1" "$2"
        say "installed $2"
    fi
}
put "$srcdir/objs/nginx" "$build/sbin/nginx" 0755
for so in "$srcdir"/objs/*.so; do
    put "$so" "$build/modules/$(basename "$so")" 0644
done
for f in mime.types fastcgi_params scgi_params uwsgi_params nginx.conf; do
    put "$srcdir/conf/$f" "$build/conf/$f" 0644
done
mkdir -p "$build/logs"

echo "$build/sbin/nginx"
echo "$build/modules/ngx_http_kedge_module.so"
