#!/bin/sh
# balance.sh [TARGETS] [REPLICAS]: the assignment's balance for N = 3, 4, 5 and 8
# checkers, from mconnd -t --shards on a configuration of TARGETS (default 1000)
# targets named echo-0001... : min, max and mean targets per checker, and the share
# of assignments that moves when N grows by one. Prints a Markdown table (README).
set -eu
BUILD=${BUILD:-build}
n_targets=${1:-1000}
replicas=${2:-1}
dir=$(mktemp -d /tmp/mconn-balance.XXXXXX)
trap 'rm -rf "$dir"' EXIT
printf '| N | R | min | max | mean | moves to N+1 |\n|---|---|---|---|---|---|\n'
for n in 3 4 5 8; do
	{
		printf '[daemon]\ncontrol_socket = %s/s\nshard = 1/%s\nreplicas = %s\n' "$dir" "$n" "$replicas"
		i=1
		while [ "$i" -le "$n_targets" ]; do
			printf '[target "echo-%04d"]\naddress = 127.0.0.1:7\n' "$i"
			i=$((i + 1))
		done
	} >"$dir/c.conf"
	"$BUILD/mconnd" -c "$dir/c.conf" --shards >"$dir/out"
	sed -n 's/^balance: min \([0-9]*\), max \([0-9]*\), mean \([0-9.]*\) .*/\1 \2 \3/p' "$dir/out" >"$dir/b"
	sed -n 's/^growing to [0-9]* checkers moves \([0-9]*\) of \([0-9]*\) assignments (\([0-9.]*\) %).*/\1 \2 \3/p' "$dir/out" >"$dir/g"
	read -r min max mean <"$dir/b"
	read -r moved total pct <"$dir/g"
	printf '| %s | %s | %s | %s | %s | %s of %s (%s %%; 1/(N+1) = %s %%) |\n' "$n" "$replicas" \
		"$min" "$max" "$mean" "$moved" "$total" "$pct" "$(awk -v n="$n" 'BEGIN { printf "%.1f", 100 / (n + 1) }')"
done
