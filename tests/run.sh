#!/bin/sh
# run.sh LABEL DIR: run every test script DIR/t_*.sh (only $ONLY when set) and end
# with "LABEL: N passed, N failed, N skipped". A script passes with exit 0, is
# skipped with exit 77 (it printed "SKIP: <test>: <what is missing>", see
# tests/integration/lib.sh) and fails with anything else. MCONN_REQUIRE_ALL=1 counts
# a skip as a failure. Exit status: 0 when nothing failed. BUILD selects the build.
label=$1
cd "$2" || exit 1
prefix=${3:-}
passed=0
failed=0
skipped=0
skipped_names=""
for t in t_*.sh; do
	[ -n "${ONLY:-}" ] && [ "$t" != "$ONLY" ] && continue
	echo "== $prefix$t (${BUILD:-build}${VALGRIND:+, under valgrind})"
	MCONN_TEST="$prefix${t%.sh}" sh "./$t"
	rc=$?
	if [ "$rc" = 0 ]; then
		passed=$((passed + 1))
	elif [ "$rc" = 77 ] && [ "${MCONN_REQUIRE_ALL:-0}" != 1 ]; then
		skipped=$((skipped + 1))
		skipped_names="$skipped_names${skipped_names:+, }$prefix$t"
		echo "== $prefix$t SKIPPED"
	elif [ "$rc" = 77 ]; then
		failed=$((failed + 1))
		echo "== $prefix$t SKIPPED, counted as FAILED (MCONN_REQUIRE_ALL=1)"
	else
		failed=$((failed + 1))
		echo "== $prefix$t FAILED (exit $rc)"
	fi
done
echo "$label: $passed passed, $failed failed, $skipped skipped${skipped_names:+ ($skipped_names)}"
[ "$failed" = 0 ]
