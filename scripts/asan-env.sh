# shellcheck shell=bash
# Runtime settings for running the Test::Nginx suite against the ASan/UBSan
# build of scripts/build-asan.sh.  Source it (bash), then run prove:
#
#   . scripts/asan-env.sh && prove -r t/
#
# ASAN_BUILD_DIR (default build/asan) and TEST_NGINX_SERVROOT (default
# t/servroot) are honoured if set.  Options use "," as separator: the test
# runner rewrites log_path=... inside ASAN_OPTIONS and splits on ",".

_kedge_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_kedge_build=${ASAN_BUILD_DIR:-$_kedge_repo/build/asan}
_kedge_logs=${TEST_NGINX_SERVROOT:-$_kedge_repo/t/servroot}/logs

if [ ! -x "$_kedge_build/sbin/nginx" ] \
        || [ ! -f "$_kedge_build/modules/ngx_http_kedge_module.so" ]; then
    echo "asan-env: no ASan build in $_kedge_build; run scripts/build-asan.sh" >&2
fi

# Where reports go (gcc 12's split libasan/libubsan runtimes, checked):
#   - ASan and LSan reports: the log_path of UBSAN_OPTIONS, parsed last,
#     wins (ASAN_OPTIONS' log_path is overridden, even by UBSan's default
#     "stderr"), so it is set there: logs/ubsan.<pid> under the server root
#     (absolute path; the runner scans logs/asan* and logs/ubsan*).  The
#     ASAN_OPTIONS log_path is kept for a runtime that honours it.
#   - UBSan "runtime error:" reports: always stderr, i.e. error.log once
#     nginx has redirected its stderr to it; during configuration parsing,
#     the stderr nginx was started with.  UBSan findings are fatal in this
#     build (see build-asan.sh), so a lost one still fails the test.
# Workers run as root in the tests ("user root", added by the runner), so
# they can write to logs/.
#
# ASAN_OPTIONS:
#   detect_leaks=1       LeakSanitizer stays on: nginx's master and workers
#                        exit through exit() with the cycle still reachable
#                        from globals, so a normal run reports nothing but
#                        two nginx core leaks, suppressed narrowly in
#                        scripts/lsan.supp (PCRE2 compile context; the init
#                        pool when main() returns: nginx -t/-s, failed
#                        starts).  Anything else is a real leak: typically a
#                        libcurl/jansson/cjose/protobuf-c object never freed.
#                        Reports appear when a process exits (worker exit on
#                        SIGQUIT/reload, master exit), i.e. after the block.
#   abort_on_error=0     ASan exits with exitcode 1 after its report instead
#                        of raising SIGABRT: no core dumps, and nginx's
#                        master still logs the worker's exit in error.log.
#   halt_on_error=1      (ASan default) stop at the first memory error: the
#                        process state is corrupt after it anyway.
#   detect_stack_use_after_return=1  catches pointers to dead stack frames
#                        kept in nginx structures (e.g. an ngx_str_t built
#                        on the stack and stored in a request).
#   strict_string_checks=1  libc string interceptors insist on a NUL.
#   malloc_context_size=30, symbolize=1: full, symbolized stacks.
# UBSAN_OPTIONS:
#   print_stacktrace=1   a stack with every "runtime error:".
#   halt_on_error=0      only matters for the two checks the build keeps
#                        recoverable (alignment, nonnull-attribute, needed
#                        for suppressions): report and go on; the runner
#                        fails the block on "runtime error:".  Every other
#                        UBSan check is fatal (-fno-sanitize-recover).
#   suppressions=scripts/ubsan.supp  nginx core false positives only.
export ASAN_OPTIONS="detect_leaks=1,abort_on_error=0,halt_on_error=1,detect_stack_use_after_return=1,strict_string_checks=1,malloc_context_size=30,symbolize=1,suppressions=$_kedge_repo/scripts/asan.supp,log_path=$_kedge_logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1,halt_on_error=0,suppressions=$_kedge_repo/scripts/ubsan.supp,log_path=$_kedge_logs/ubsan"
export LSAN_OPTIONS="suppressions=$_kedge_repo/scripts/lsan.supp,print_suppressions=0"

export TEST_NGINX_BINARY=$_kedge_build/sbin/nginx
export TEST_NGINX_LOAD_MODULES=$_kedge_build/modules/ngx_http_kedge_module.so

unset _kedge_repo _kedge_build _kedge_logs
