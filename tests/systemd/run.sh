#!/bin/sh
# Run the systemd tests that need no running systemd (tests/systemd/t_*.sh): the
# notify protocol, socket activation, the unit files. BUILD selects the build.
cd "$(dirname "$0")" || exit 1
passed=0
failed=0
for t in t_*.sh; do
	[ -n "${ONLY:-}" ] && [ "$t" != "$ONLY" ] && continue
	echo "== systemd/$t (${BUILD:-build})"
	if sh "./$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "== systemd/$t FAILED"
	fi
done
echo "systemd (no systemd running): $passed passed, $failed failed"
[ "$failed" = 0 ]
