#!/bin/sh
#
# tests/run.sh: runs zproxy's Check test binaries and sums their results.
#
#   sh tests/run.sh KIND [BINARY...]
#
# KIND is unit, integration or all.  Without BINARY arguments it runs the
# built binaries under objs/tests/<kind>/ whose test_*.c source still
# exists; "make test", "make unit" and "make integration" pass them.
# Unit binaries run first, then integration ones; those get ZP_BIN (the
# absolute path of objs/zproxy) and ZP_SRC (the absolute tree root).
#
# Each binary's output is printed as it was.  Its Check summary lines
# ("NN%: Checks: X, Failures: F, Errors: E") are summed; a binary that
# exits non-zero without a failed check, is killed, or prints no summary
# counts as one failure.  The last line is "N passed, N failed", and the
# exit status is non-zero when anything failed.
#
# ZP_TEST_TIMEOUT (seconds, default 900) bounds each binary's run.

LC_ALL=C
export LC_ALL

zp_root=$(cd "$(dirname "$0")/.." && pwd) || exit 1
cd "$zp_root" || exit 1

zp_kind=${1:-all}
[ $# -gt 0 ] && shift

case "$zp_kind" in
    unit|integration|all) ;;
    *)
        echo "usage: $0 unit|integration|all [BINARY...]" >&2
        exit 2
    ;;
esac

ZP_BIN="$zp_root/objs/zproxy"
ZP_SRC="$zp_root"
export ZP_BIN ZP_SRC

zp_timeout=${ZP_TEST_TIMEOUT:-900}
zp_passed=0
zp_failed=0
zp_bad=""
zp_out=$(mktemp "${TMPDIR:-/tmp}/zp-test.XXXXXX") || exit 1
trap 'rm -f "$zp_out"' EXIT
trap 'exit 130' INT TERM

# zp_found KIND: the built binaries of KIND whose source still exists.
zp_found() {
    [ -d objs/tests/$1 ] || return 0
    find objs/tests/$1 -type f -name 'test_*' ! -name '*.[od]' | sort |
    while read -r zp_b; do
        [ -f "${zp_b#objs/}.c" ] && echo "$zp_b"
    done
}

# zp_run BINARY: runs one binary and adds its counts to the totals.
zp_run() {
    zp_bin=$1
    echo "== $zp_bin"

    if [ ! -x "$zp_bin" ]; then
        echo "$zp_bin: not built"
        zp_failed=$((zp_failed + 1))
        zp_bad="$zp_bad $zp_bin"
        return
    fi

    if command -v timeout > /dev/null 2>&1; then
        timeout -k 10 "$zp_timeout" "$zp_bin" > "$zp_out" 2>&1 < /dev/null
    else
        "$zp_bin" > "$zp_out" 2>&1 < /dev/null
    fi
    zp_rc=$?

    cat "$zp_out"

    # Sum the checks and failures + errors of every summary line printed.
    zp_sums=$(sed -n -e 's/^.*[0-9]*%: Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*$/\1 \2 \3/p' "$zp_out" |
              awk '{ c += $1; f += $2 + $3; n++ } END { print n + 0, c + 0, f + 0 }')
    read -r zp_lines zp_checks zp_fails << END
$zp_sums
END

    zp_passed=$((zp_passed + zp_checks - zp_fails))
    zp_failed=$((zp_failed + zp_fails))

    if [ $zp_rc -ne 0 ] && [ $zp_fails -eq 0 ]; then
        case $zp_rc in
            124|137) echo "== $zp_bin: killed after ${zp_timeout}s" ;;
            *)       echo "== $zp_bin: exited with status $zp_rc" ;;
        esac
        zp_failed=$((zp_failed + 1))
        zp_bad="$zp_bad $zp_bin"
    elif [ $zp_lines -eq 0 ]; then
        echo "== $zp_bin: printed no Check summary"
        zp_failed=$((zp_failed + 1))
        zp_bad="$zp_bad $zp_bin"
    elif [ $zp_fails -ne 0 ]; then
        zp_bad="$zp_bad $zp_bin"
    fi
}

if [ $# -gt 0 ]; then
    zp_list="$*"
else
    zp_list=
    case "$zp_kind" in
        unit|all) zp_list="$zp_list $(zp_found unit)" ;;
    esac
    case "$zp_kind" in
        integration|all) zp_list="$zp_list $(zp_found integration)" ;;
    esac
fi

# Unit binaries first, then integration ones, whatever the order given.
for zp_pass in unit integration; do
    for zp_b in $zp_list; do
        case "$zp_b" in
            */tests/integration/*) [ $zp_pass = integration ] || continue ;;
            *)                     [ $zp_pass = unit ] || continue ;;
        esac
        zp_run "$zp_b"
    done
done

if [ -n "$zp_bad" ]; then
    echo
    echo "failed:"
    for zp_b in $zp_bad; do
        echo "    $zp_b"
    done
fi

echo
echo "$zp_passed passed, $zp_failed failed"

[ $zp_failed -eq 0 ]
