#!/bin/sh
# Install what building, running and testing mconn need, from Debian's packages,
# and only what is missing. Called by 'make deps' (and so by 'make demo' and
# 'make check'); safe to run again.
set -eu

# Build: compiler and C library headers (gcc only recommends libc6-dev), pkg-config
# and the libraries (libsystemd, inih, Check, libmicrohttpd for metrics_listen).
# Tests: jq reads mconnctl's JSON, mandoc lints the man pages, valgrind checks
# the daemon's memory, socat talks to the control socket like a person would,
# procps (pkill) and util-linux (prlimit, unshare) drive the fault tests.
# Observability: prometheus (promtool checks the metrics and sample files; a real
# server scrapes the daemon), curl talks to the HTTP endpoint and Prometheus's API,
# tmux gives mconnctl top a pseudo-terminal.
# systemd tests: systemd gives systemd-analyze (verify, security) and
# systemd-socket-activate; systemd-container (systemd-nspawn) and debootstrap boot
# a real systemd in a container for 'make check-systemd' (util-linux: nsenter, setpriv);
# man-db gives man(1), which systemd-analyze verify runs for each Documentation= page.
PKGS="gcc libc6-dev make pkg-config libsystemd-dev libinih-dev libmicrohttpd-dev check jq mandoc valgrind socat procps util-linux"
PKGS="$PKGS prometheus curl tmux"
PKGS="$PKGS systemd systemd-container debootstrap man-db"
# make bench: python3 runs the suite (tests/bench/run.py) and the classic baseline.
PKGS="$PKGS python3"
# Fuzzing and lint: clang with libFuzzer and the sanitizer runtimes (libclang-rt-14-dev
# is only recommended by clang, and recommends are not installed), clang-tidy and
# cppcheck for 'make lint'; iproute2 (ip) brings up loopback in t_inject's namespace.
PKGS="$PKGS clang libclang-rt-14-dev clang-tidy cppcheck iproute2"
# The health tests: haproxy is the round-robin load balancer of t_health_lb.sh (one
# bad backend of four); perl (Time::HiRes) stamps the daemon's log lines in t_health2.sh.
PKGS="$PKGS haproxy perl"

missing=""
for p in $PKGS; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "deps: need root (or sudo) to install:$missing" >&2
		exit 1
	}
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
