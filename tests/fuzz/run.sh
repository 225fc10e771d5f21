#!/bin/sh
# make fuzz: run each libFuzzer harness in DIR (default build/fuzz) for FUZZ_SECONDS
# (default 60) from its seed corpus in tests/fuzz/corpus/HARNESS, one after another.
# Fails when any harness reports a crash, a leak, a timeout (an input taking more than
# FUZZ_TIMEOUT seconds, default 10) or running out of memory; the input that did it is
# kept under DIR/artifacts. FUZZ_SECONDS=0 replays the corpora only. New inputs a run
# finds go to a scratch corpus, never into the tree. Prints executions per harness.
set -u
DIR=${1:-build/fuzz}
SECS=${FUZZ_SECONDS:-60}
TIMEOUT=${FUZZ_TIMEOUT:-10}
HARNESSES=${FUZZ_HARNESSES:-parse config ctl udp cert}
CORPUS=$(cd "$(dirname "$0")" && pwd)/corpus
T=$(mktemp -d /tmp/mconn-fuzz.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$DIR/artifacts"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

failed=0
for h in $HARNESSES; do
	bin=$DIR/fuzz_$h
	mkdir -p "$T/$h"
	if [ "$SECS" = 0 ]; then
		how="replay of $(ls "$CORPUS/$h" | wc -l) inputs"
		set -- -runs=0
	else
		how="${SECS}s"
		set -- -max_total_time="$SECS" "$T/$h"
	fi
	"$bin" -timeout="$TIMEOUT" -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$DIR/artifacts/$h-" "$@" "$CORPUS/$h" >"$T/$h.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$T/$h.log")
	cov=$(grep -E '^#[0-9]+.*(DONE|INITED)' "$T/$h.log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	new=$(ls "$T/$h" | wc -l)
	if [ "$rc" != 0 ]; then
		failed=$((failed + 1))
		echo "fuzz: $h: FAILED (exit $rc) after ${execs:-?} executions ($how):"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written|deadly signal|timeout' "$T/$h.log" | head -n 20
		sed -n '/^==[0-9]*==ERROR/,/^SUMMARY/p' "$T/$h.log" | head -n 60
	else
		echo "fuzz: $h: ${execs:-?} executions ($how), coverage ${cov:-?} edges, $new new inputs"
	fi
done
[ "$failed" = 0 ] || { echo "fuzz: $failed harness(es) failed; inputs kept in $DIR/artifacts"; exit 1; }
