#!/bin/sh
# Run every integration test (tests/integration/t_*.sh) and print one closing line
# "N passed, N failed". BUILD selects the build directory under test.
cd "$(dirname "$0")" || exit 1
passed=0
failed=0
for t in t_*.sh; do
	[ -n "${ONLY:-}" ] && [ "$t" != "$ONLY" ] && continue
	echo "== $t (${BUILD:-build}${VALGRIND:+, under valgrind})"
	if sh "./$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "== $t FAILED"
	fi
done
echo "integration: $passed passed, $failed failed"
[ "$failed" = 0 ]
