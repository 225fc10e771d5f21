#!/bin/sh
# run.sh LABEL PREFIX SCRIPT...: run each test script (only the one named $ONLY when
# set) and end with "LABEL: N passed, N failed, N skipped". A script passes with exit
# 0, is skipped with exit 77 (it printed "SKIP: <test>: <what is missing>", see
# tests/integration/lib.sh) and fails with anything else; PREFIX goes before its
# name (systemd/). MCONN_REQUIRE_ALL=1 counts a skip as a failure. Exit status: 0
# when nothing failed. BUILD selects the build under test.
label=$1
prefix=$2
shift 2
passed=0
failed=0
skipped=0
skipped_names=""
for t in "$@"; do
	name=$prefix$(basename "$t")
	[ -n "${ONLY:-}" ] && [ "$(basename "$t")" != "$ONLY" ] && continue
	echo "== $name (${BUILD:-build}${VALGRIND:+, under valgrind})"
	MCONN_TEST=${name%.sh} sh "$t"
	rc=$?
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1))
	elif [ "$rc" = 77 ] && [ "${MCONN_REQUIRE_ALL:-0}" != 1 ]; then
		skipped=$((skipped + 1))
		skipped_names="$skipped_names${skipped_names:+, }$name"
		echo "== $name SKIPPED"
	elif [ "$rc" = 77 ]; then
		failed=$((failed + 1))
		echo "== $name SKIPPED, counted as FAILED (MCONN_REQUIRE_ALL=1)"
	else
		failed=$((failed + 1))
		echo "== $name FAILED (exit $rc)"
	fi
done
echo "$label: $passed passed, $failed failed, $skipped skipped${skipped_names:+ ($skipped_names)}"
[ "$failed" = 0 ]
