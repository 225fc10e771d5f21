# mconn: one plain GNU Makefile, no recursion into subdirectories.
# Targets: all check install clean demo deps lint-man; see README.md.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR    ?=
# Where systemd looks for units: from pkg-config when systemd says, else under PREFIX.
UNITDIR    ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),$(PREFIX)/lib/systemd/system)
SYSUSERSDIR ?= $(or $(shell pkg-config --variable=sysusersdir systemd 2>/dev/null),$(PREFIX)/lib/sysusers.d)

BUILD      ?= build
SANITIZE   ?=
CC         ?= cc
CFLAGS     ?= -O2 -g
WARNINGS   := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
              -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wundef -Wvla \
              -Wmissing-declarations -Wnull-dereference -Wimplicit-fallthrough
ifneq ($(SANITIZE),)
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

# Recursively expanded, so pkg-config runs only after 'deps' has installed it.
PKG_CFLAGS  = $(shell pkg-config --cflags libsystemd inih libmicrohttpd)
PKG_LIBS    = $(shell pkg-config --libs libsystemd inih libmicrohttpd)
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS   = $(shell pkg-config --libs check)

ALL_CFLAGS  = -std=gnu11 -D_GNU_SOURCE $(WARNINGS) -Iinclude $(PKG_CFLAGS) $(CFLAGS) $(SANFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

# Objects shared by mconnd and mconnctl.
COMMON_SRC := src/util.c src/parse.c src/proto.c
# The daemon's modules: everything but main, so tests link them all.
CORE_SRC   := src/config.c src/timer.c src/histogram.c src/session.c src/sockio.c \
              src/target.c src/daemon.c src/reconcile.c src/ctl.c src/ctlcmd.c src/render.c \
              src/log.c src/metrics.c src/http.c
# mconnctl's own side: the client, check's thresholds, top.
CLI_SRC    := src/ctlclient.c src/range.c src/check.c src/top.c
COMMON_OBJ := $(COMMON_SRC:src/%.c=$(BUILD)/%.o)
CLI_OBJ    := $(CLI_SRC:src/%.c=$(BUILD)/%.o)
CORE_OBJ   := $(CORE_SRC:src/%.c=$(BUILD)/%.o)

UNIT_TESTS := parse config histogram timer session target proto ctl render metrics range
UNIT_BIN   := $(UNIT_TESTS:%=$(BUILD)/tests/check_%)

PROGRAMS   := $(BUILD)/mconnd $(BUILD)/mconnctl $(BUILD)/echod $(BUILD)/ctlprobe
# Stands in for systemd's notification socket in the systemd tests.
NOTIFYRECV := $(BUILD)/notifyrecv

# Keep the test objects between runs (make would delete them as intermediates).
.SECONDARY:

.PHONY: all deps check check-unit check-integration check-asan check-valgrind check-load load lint-man install clean demo \
	check-sd check-systemd bench scrape-cost
all: $(PROGRAMS)

deps:
	@sh .ci/deps.sh

$(BUILD)/%.o: src/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

$(BUILD)/mconnd: $(BUILD)/mconnd.o $(CORE_OBJ) $(COMMON_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/mconnctl: $(BUILD)/mconnctl.o $(CLI_OBJ) $(COMMON_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

$(BUILD)/echod: $(BUILD)/tests/echod.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^

$(BUILD)/ctlprobe: $(BUILD)/tests/ctlprobe.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^

$(NOTIFYRECV): $(BUILD)/tests/systemd/notifyrecv.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^

$(BUILD)/tests/check_%: $(BUILD)/tests/check_%.o $(CORE_OBJ) $(COMMON_OBJ)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS)

# The control-socket suites share a harness that drives a real daemon in-process.
$(BUILD)/tests/check_ctl $(BUILD)/tests/check_render $(BUILD)/tests/check_metrics: $(BUILD)/tests/ctlharness.o

# The range parser is mconnctl's, not the daemon's.
$(BUILD)/tests/check_range: $(BUILD)/range.o

check-unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do CK_FORK=yes $$t; done

check-integration: $(PROGRAMS)
	@BUILD=$(BUILD) sh tests/integration/run.sh

# The unit, integration and systemd (notify, activation) tests again, built with ASan and UBSan.
check-asan:
	@CK_TIMEOUT_MULTIPLIER=4 $(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 CFLAGS="-O1 -g" check-unit check-integration check-sd

# The daemon's integration runs again under valgrind memcheck (errors and leaks fail).
check-valgrind: $(PROGRAMS)
	@VALGRIND=1 BUILD=$(BUILD) sh tests/integration/run.sh

# 1,000 sessions over 3 targets at 100 ms for LOAD_SECONDS (default 60): no failure,
# RSS and fds flat. 'make check' runs a 15-second version.
load: $(PROGRAMS)
	@BUILD=$(BUILD) sh tests/load.sh

check-load: $(PROGRAMS)
	@LOAD_SECONDS=15 BUILD=$(BUILD) sh tests/load.sh

# What one scrape costs the loop with 10,000 sessions (SCRAPE_TARGETS=10|100|1000).
scrape-cost: $(PROGRAMS)
	@BUILD=$(BUILD) sh tests/scrape_cost.sh

# The sd_notify datagrams (order, watchdog period), systemd-socket-activate, and the
# installed units (systemd-analyze verify and security), without a running systemd.
check-sd: $(PROGRAMS) $(NOTIFYRECV)
	@BUILD=$(BUILD) sh tests/systemd/run.sh

# The installed service under a real systemd, booted as PID 1 of a systemd-nspawn
# container (root only). The root file system is built once with debootstrap and
# cached in MCONN_ROOTFS_CACHE (default /var/cache/mconn).
check-systemd: $(PROGRAMS)
	@BUILD=$(BUILD) sh tests/systemd/container.sh

# The benchmark suite (tests/bench/run.py): mconnd beside the limit and classic
# baselines, every scenario of issue 6 three times; about 7 minutes.
$(BUILD)/bench/limit: tests/bench/limit.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARNINGS) $(CFLAGS) -o $@ $<

bench: $(PROGRAMS) $(BUILD)/bench/limit
	@BUILD=$(BUILD) python3 tests/bench/run.py

lint-man:
	@out=$$(mandoc -Tlint -W warning man/*.[0-9] 2>&1); \
	if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; echo "mandoc -Tlint: man pages clean"

check: all lint-man check-unit check-integration check-sd check-systemd check-load scrape-cost check-asan check-valgrind

# The units get this install's paths, so they are written at install time, never
# cached. The admin group mconn comes from sysusers.d (run systemd-sysusers
# afterwards); the installed configuration, unless one exists, names it as
# admin_group (the unit needs the group anyway; the demo's copy cannot assume it).
UNIT_SED = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
install: $(BUILD)/mconnd $(BUILD)/mconnctl
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/mconnd $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR)
	$(UNIT_SED) systemd/mconnd.service.in >$(DESTDIR)$(UNITDIR)/mconnd.service
	$(UNIT_SED) systemd/mconnd.socket.in >$(DESTDIR)$(UNITDIR)/mconnd.socket
	chmod 0644 $(DESTDIR)$(UNITDIR)/mconnd.service $(DESTDIR)$(UNITDIR)/mconnd.socket
	install -m 0644 systemd/mconnd.sysusers $(DESTDIR)$(SYSUSERSDIR)/mconnd.conf
	install -m 0755 $(BUILD)/mconnd $(DESTDIR)$(SBINDIR)/mconnd
	install -m 0755 $(BUILD)/mconnctl $(DESTDIR)$(BINDIR)/mconnctl
	install -m 0644 man/mconnd.8 man/mconnctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/mconnd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -d $(DESTDIR)$(SYSCONFDIR)/mconnd/conf.d
	test -e $(DESTDIR)$(SYSCONFDIR)/mconnd/mconnd.conf || { \
		sed 's/^#admin_group = mconn$$/admin_group = mconn/' conf/mconnd.conf \
		>$(DESTDIR)$(SYSCONFDIR)/mconnd/mconnd.conf && \
		chmod 0644 $(DESTDIR)$(SYSCONFDIR)/mconnd/mconnd.conf; }

demo: $(PROGRAMS)
	@BUILD=$(BUILD) sh tests/demo.sh

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
