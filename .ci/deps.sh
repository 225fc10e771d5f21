#!/bin/sh
# deps.sh [demo|test]: install, from Debian's packages, what building and running the
# demo needs (demo) or what every test needs on top of that (test), and only what is
# missing; safe to run again. 'make deps' (every target that compiles, so 'make demo')
# asks for the demo set, 'make deps-test' (every check, lint and fuzz target) for the
# test set. One line of output when something is installed; apt's own output goes to
# a log that is shown only when apt fails.
set -eu

# The demo: compiler and C library headers (gcc only recommends libc6-dev), make,
# pkg-config and the libraries (libsystemd, inih, libmicrohttpd for metrics_listen,
# zlib for gzip-compressed scrapes, OpenSSL 3 for protocol = tls); jq pretty-prints
# the demo's last status in JSON.
DEMO="gcc libc6-dev make pkg-config libsystemd-dev libinih-dev libmicrohttpd-dev zlib1g-dev libssl-dev jq"

# Tests: Check (unit tests), mandoc lints the man pages, valgrind checks the daemon's
# memory, socat talks to the control socket like a person would, procps (pkill) and
# util-linux (prlimit, unshare, setpriv, nsenter) drive the fault tests.
# Observability: prometheus (promtool checks the metrics and sample files; a real
# server scrapes the daemon), curl talks to the HTTP endpoint and Prometheus's API,
# tmux gives mconnctl top a pseudo-terminal; chromium (headless) screenshots the status
# page in t_page.sh, with fonts-dejavu-core for its text (chromium only recommends fonts).
# systemd tests: systemd gives systemd-analyze (verify, security) and
# systemd-socket-activate; systemd-container (systemd-nspawn) and debootstrap boot
# a real systemd in a container for 'make check-systemd';
# man-db gives man(1), which systemd-analyze verify runs for each Documentation= page.
TEST="check mandoc valgrind socat procps util-linux prometheus curl tmux"
TEST="$TEST chromium fonts-dejavu-core"
TEST="$TEST systemd systemd-container debootstrap man-db"
# make deb: debhelper (dh, compat 13) and dpkg-dev (dpkg-buildpackage) build the
# package (Rules-Requires-Root: no, so no fakeroot), lintian checks it;
# dpkg-checkbuilddeps wants build-essential itself (a root with gcc and make alone,
# as a minbase one is, fails it).
TEST="$TEST debhelper dpkg-dev lintian build-essential"
# make bench: python3 runs the suite (tests/bench/run.py) and the classic baseline.
TEST="$TEST python3"
# Fuzzing and lint: clang with libFuzzer and the sanitizer runtimes (libclang-rt-14-dev
# is only recommended by clang, and recommends are not installed), clang-tidy and
# cppcheck for 'make lint'; iproute2 (ip) brings up loopback in t_inject's namespace
# and builds check-fleet's namespaces, veth pairs and routes; nftables (nft) puts a
# local firewall in t_firewall's namespace and counts the checker's segments per
# cycle in t_packets's.
TEST="$TEST clang libclang-rt-14-dev clang-tidy cppcheck iproute2 nftables"
# The health tests: haproxy is the round-robin load balancer of t_health_lb.sh (one
# bad backend of four); perl (Time::HiRes) stamps the daemon's log lines in t_health2.sh.
TEST="$TEST haproxy perl"
# UDP echo: openbsd-inetd's built-in echo service is a test peer of t_udp.sh (socat,
# above, is the other).
TEST="$TEST openbsd-inetd"
# TLS echo: the openssl command makes t_tls.sh's certificates and is make bench's
# baseline (s_time, against s_server); socat's OPENSSL-LISTEN is t_tls.sh's peer.
TEST="$TEST openssl"

case ${1:-demo} in
demo) set=demo PKGS=$DEMO ;;
test) set=test PKGS="$DEMO $TEST" ;;
*) echo "usage: deps.sh [demo|test]" >&2; exit 2 ;;
esac

# One dpkg-query for the whole list; a package it does not know is missing too.
# shellcheck disable=SC2086
installed=$(dpkg-query -W -f='${Package} ${Status}\n' $PKGS 2>/dev/null |
	awk '$NF == "installed" { print $1 }' || true)
installed=" $(printf '%s\n' "$installed" | tr '\n' ' ') "
missing=""
n=0
for p in $PKGS; do
	case $installed in
	*" $p "*) ;;
	*) missing="$missing $p"; n=$((n + 1)) ;;
	esac
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "deps: need root (or sudo) to install:$missing" >&2
		exit 1
	}
	SUDO=sudo
fi
command -v apt-get >/dev/null 2>&1 || {
	echo "deps: no apt-get here; install the equivalents of:$missing" >&2
	exit 1
}
s=s; [ "$n" = 1 ] && s=""
echo "deps: installing $n package$s for the $set:$missing"
log=$(mktemp /tmp/mconn-deps.XXXXXX)
start=$(date +%s)
# No questions, and no debconf warnings such as "delaying package configuration".
APT="$SUDO env DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes apt-get"
# shellcheck disable=SC2086
if ! { $APT update -qq && $APT install -y -qq --no-install-recommends $missing; } \
	>"$log" 2>&1; then
	cat "$log" >&2
	rm -f "$log"
	echo "deps: apt-get failed" >&2
	exit 1
fi
rm -f "$log"
echo "deps: installed in $(($(date +%s) - start)) s"
