#!/bin/sh
# check.sh PART...: what 'make check' runs. Each PART is a make target, run even when
# an earlier one failed, its output shown as it comes and kept in $BUILD/check/PART.log.
# Then one summary line per part (passed, failed or skipped, its time, its own count)
# with the SKIP lines under it, and a closing line "N passed, N failed, N skipped"
# that CI reads. A part is skipped when it passed but printed "SKIP: <test>: <what is
# missing>" (tests/integration/lib.sh); with MCONN_REQUIRE_ALL=1 the runners fail it
# instead. Exit status: 0 when no part failed.
set -u
MAKE=${MAKE:-make}
BUILD=${BUILD:-build}
LOGS=$BUILD/check
mkdir -p "$LOGS"
passed=0
failed=0
skipped=0
summary=$LOGS/summary
: >"$summary"

for part in "$@"; do
	log=$LOGS/$part.log
	echo "== make $part"
	start=$(date +%s)
	{
		$MAKE --no-print-directory "$part" 2>&1
		echo $? >"$log.rc"
	} | tee "$log"
	rc=$(cat "$log.rc")
	rm -f "$log.rc"
	secs=$(($(date +%s) - start))
	skips=$(grep '^SKIP: ' "$log")
	if [ "$rc" != 0 ]; then
		state=FAILED
		failed=$((failed + 1))
	elif [ -n "$skips" ] && [ "${MCONN_REQUIRE_ALL:-0}" = 1 ]; then
		state=FAILED
		failed=$((failed + 1))
	elif [ -n "$skips" ]; then
		state=skipped
		skipped=$((skipped + 1))
	else
		state=passed
		passed=$((passed + 1))
	fi
	# The part's own counts, e.g. "integration: 14 passed, 0 failed, 0 skipped".
	counts=$(grep -E '^[a-z].*: [0-9]+ passed, [0-9]+ failed' "$log" | paste -sd ';' - | sed 's/;/; /g')
	printf '%-18s %-7s %5s s  %s\n' "$part" "$state" "$secs" "$counts" >>"$summary"
	[ -z "$skips" ] || printf '%s\n' "$skips" | sed 's/^/    /' >>"$summary"
	if [ "$state" = FAILED ]; then
		# What failed: the tests' FAIL lines, Check's :F:/:E: lines, make's own error.
		grep -E '^ *FAIL|FAILED|:[FE]:|^make: \*\*\*' "$log" | head -n 8 | sed 's/^/    /' >>"$summary"
		echo "    (the whole output: $log)" >>"$summary"
	fi
done

echo
echo "== make check: summary${MCONN_REQUIRE_ALL:+ (MCONN_REQUIRE_ALL=$MCONN_REQUIRE_ALL)}"
cat "$summary"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
