#!/bin/sh
# tests/fuzz/build.sh: builds the libFuzzer targets tests/fuzz/fuzz_*.c into
# objs/fuzz/<name>, each linked with objs/libzproxy.a (libFuzzer has main()).
#
# Run it from (or on) a copy of the tree configured with
#
#     ./configure --with-cc=clang --with-sanitizers
#
# The library is rebuilt with coverage instrumentation for libFuzzer
# (-fsanitize=fuzzer-no-link) and with UBSan made fatal, so that undefined
# behaviour in zproxy is a crash the fuzzer keeps. That changes the objects
# in objs/: do it in a copy of the tree, not in a working tree.
#
#     sh tests/fuzz/build.sh            all targets
#     sh tests/fuzz/build.sh fuzz_conf  only those named
set -eu

cd "$(dirname "$0")/../.."

if [ ! -f objs/Makefile ]; then
    echo "build.sh: no objs/Makefile: run ./configure --with-cc=clang --with-sanitizers" >&2
    exit 1
fi

mkvar() {
    printf 'print-%%:\n\t@printf "%%s\\n" "$($*)"\n' >objs/fuzz/print.mk
    make --no-print-directory -s -f objs/Makefile -f objs/fuzz/print.mk "print-$1"
}

mkdir -p objs/fuzz

CC=$(mkvar CC)
CFLAGS=$(mkvar CFLAGS)
CPPFLAGS=$(mkvar CPPFLAGS)
LIBS=$(mkvar LIBS)
rm -f objs/fuzz/print.mk

case "$("$CC" --version 2>/dev/null | head -n 1)" in
*clang*) ;;
*)
    echo "build.sh: CC is \"$CC\": libFuzzer needs clang (./configure --with-cc=clang)" >&2
    exit 1
    ;;
esac

case "$CFLAGS" in
*-fsanitize=address*) ;;
*)
    echo "build.sh: objs/Makefile has no -fsanitize=address: ./configure --with-sanitizers" >&2
    exit 1
    ;;
esac

FUZZ_CFLAGS="-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined"
LIB_CFLAGS="$CFLAGS $FUZZ_CFLAGS"

# An object built without coverage (by a plain "make") is invisible to the
# fuzzer: when there is one, everything is rebuilt (make -B), as make does
# not see a change of flags.
rebuild=
if [ ! -f objs/libzproxy.a ]; then
    rebuild=-B
else
    for o in $(ar t objs/libzproxy.a); do
        f=$(find objs -path objs/fuzz -prune -o -name "$o" -print | head -n 1)
        # an object with code (T symbols) but no coverage callbacks
        if [ -z "$f" ] || { nm "$f" | grep -q ' T ' && ! nm "$f" | grep -q '__sanitizer_cov_'; }; then
            rebuild=-B
            break
        fi
    done
fi

echo "build.sh: objs/libzproxy.a with $FUZZ_CFLAGS${rebuild:+ (rebuilding all objects)}"
make --no-print-directory -s $rebuild -j"$(nproc 2>/dev/null || echo 2)" -f objs/Makefile \
    objs/libzproxy.a CFLAGS="$LIB_CFLAGS"

if [ $# -gt 0 ]; then
    targets=$*
else
    targets=$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
fi

for t in $targets; do
    echo "build.sh: objs/fuzz/$t"
    # shellcheck disable=SC2086
    $CC $CPPFLAGS $CFLAGS $FUZZ_CFLAGS -fsanitize=fuzzer -o "objs/fuzz/$t" "tests/fuzz/$t.c" \
        objs/libzproxy.a $LIBS
done
