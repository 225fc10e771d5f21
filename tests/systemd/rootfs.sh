#!/bin/sh
# Print the path of a Debian 12 root file system that boots systemd in a container,
# building it with debootstrap the first time (about a minute, ~270 MB). The tree is
# cached under MCONN_ROOTFS_CACHE (default /var/cache/mconn) in a directory named
# after what it contains, so a change of the package list builds a new one; the
# containers boot it with --volatile=overlay and never write to it.
set -eu

CACHE=${MCONN_ROOTFS_CACHE:-/var/cache/mconn}
SUITE=bookworm
# systemd as PID 1 and its tools; dbus for systemctl's bus; libnss-systemd so
# DynamicUser names resolve; procps (kill, pgrep); libinih1 and libmicrohttpd12
# (metrics_listen) for mconnd itself.
INCLUDE=systemd,systemd-sysv,dbus,libnss-systemd,procps,libinih1,libmicrohttpd12
KEY=$(printf '%s %s v1' "$SUITE" "$INCLUDE" | sha256sum | cut -c1-12)
ROOT="$CACHE/rootfs-$SUITE-$KEY"

if [ -e "$ROOT/.complete" ]; then
	echo "$ROOT"
	exit 0
fi
mkdir -p "$CACHE"
# One builder at a time; whoever waited finds the tree ready.
exec 9>"$CACHE/.lock"
flock 9
if [ ! -e "$ROOT/.complete" ]; then
	MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
	tmp="$ROOT.tmp.$$"
	rm -rf "$ROOT" "$ROOT".tmp.*
	echo "rootfs: debootstrap $SUITE into $ROOT (from $MIRROR)" >&2
	start=$(date +%s)
	if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$tmp" "$MIRROR" \
		>"$CACHE/debootstrap.log" 2>&1; then
		tail -n 20 "$CACHE/debootstrap.log" >&2
		rm -rf "$tmp"
		exit 1
	fi
	# No first-boot prompts, and a fixed machine id so the journal has one directory.
	echo mconn-test >"$tmp/etc/hostname"
	echo 8d140bd1543a38d35d924dd6e1dc3b95 >"$tmp/etc/machine-id"
	rm -f "$tmp/var/cache/apt/archives/"*.deb
	touch "$tmp/.complete"
	mv "$tmp" "$ROOT"
	echo "rootfs: ready in $(($(date +%s) - start)) s" >&2
fi
echo "$ROOT"
