# mconn: one plain GNU Makefile, no recursion into subdirectories.
# Targets: all check install clean demo deps deps-test lint-man check-warnings; see README.md.
# Quiet by default: one short line per compiled file (none under make -s);
# V=1 shows the full compiler command lines.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/mconn
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
V          ?= 0
ifeq ($(V),1)
quiet       =
else ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
quiet       = @
else
quiet       = @printf '  %-4s %s\n' $(1) $(2);
endif
ifneq ($(SANITIZE),)
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

# Recursively expanded, so pkg-config runs only after 'deps' has installed it.
PKG_CFLAGS  = $(shell pkg-config --cflags libsystemd inih libmicrohttpd zlib openssl)
PKG_LIBS    = $(shell pkg-config --libs libsystemd inih libmicrohttpd zlib openssl)
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS   = $(shell pkg-config --libs check)

# WERROR=-Werror turns warnings into errors (check-warnings does).
WERROR     ?=
ALL_CFLAGS  = -std=gnu11 -D_GNU_SOURCE $(WARNINGS) $(WERROR) -Iinclude $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(SANFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

# Objects shared by mconnd and mconnctl.
COMMON_SRC := src/util.c src/parse.c src/proto.c
# The daemon's modules: everything but main, so tests link them all.
CORE_SRC   := src/config.c src/timer.c src/histogram.c src/session.c src/sockio.c \
              src/target.c src/loop.c src/pool.c src/daemon.c src/reconcile.c src/ctl.c \
              src/ctlcmd.c src/render.c src/log.c src/metrics.c src/http.c src/resolve.c \
              src/history.c src/page.c src/shard.c src/fleet.c src/udpecho.c src/tls.c
# mconnctl's own side: the client, check's thresholds, top.
CLI_SRC    := src/ctlclient.c src/range.c src/check.c src/top.c
COMMON_OBJ := $(COMMON_SRC:src/%.c=$(BUILD)/%.o)
CLI_OBJ    := $(CLI_SRC:src/%.c=$(BUILD)/%.o)
CORE_OBJ   := $(CORE_SRC:src/%.c=$(BUILD)/%.o)

UNIT_TESTS := parse config histogram timer loop session target proto ctl render metrics range resolve reload page shard tls
UNIT_BIN   := $(UNIT_TESTS:%=$(BUILD)/tests/check_%)

PROGRAMS   := $(BUILD)/mconnd $(BUILD)/mconnctl $(BUILD)/echod $(BUILD)/ctlprobe
DEMO_PROGRAMS := $(BUILD)/mconnd $(BUILD)/mconnctl $(BUILD)/echod
# Stands in for systemd's notification socket in the systemd tests.
NOTIFYRECV := $(BUILD)/notifyrecv

# Keep the test objects between runs (make would delete them as intermediates).
.SECONDARY:

.PHONY: all deps deps-test check check-unit check-integration check-fleet check-asan check-valgrind check-load load lint-man install clean demo false-failures \
	fuzz fuzz-build check-fuzz check-warnings lint soak check-sd check-systemd bench bench-accuracy bench-peers scrape-cost deb
all: $(PROGRAMS)

# What building and the demo need; what the tests need on top of it (.ci/deps.sh).
# MCONN_NO_DEPS=1 (the package build, whose dependencies debian/control declares): none.
deps:
	@[ -n "$(MCONN_NO_DEPS)" ] || sh .ci/deps.sh demo
deps-test:
	@sh .ci/deps.sh test

$(BUILD)/%.o: src/%.c | deps
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%.o: tests/%.c | deps
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -c -o $@ $<

# The Check suites and their harness need Check, from the test set.
$(UNIT_BIN:%=%.o) $(BUILD)/tests/ctlharness.o: TEST_CFLAGS = $(CHECK_CFLAGS)
$(UNIT_BIN:%=%.o) $(BUILD)/tests/ctlharness.o: | deps-test

$(BUILD)/mconnd: $(BUILD)/mconnd.o $(CORE_OBJ) $(COMMON_OBJ)
	$(call quiet,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/mconnctl: $(BUILD)/mconnctl.o $(CLI_OBJ) $(COMMON_OBJ)
	$(call quiet,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^

$(BUILD)/echod: $(BUILD)/tests/echod.o
	$(call quiet,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^

$(BUILD)/ctlprobe: $(BUILD)/tests/ctlprobe.o
	$(call quiet,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^

$(NOTIFYRECV): $(BUILD)/tests/systemd/notifyrecv.o
	$(call quiet,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^

$(BUILD)/tests/check_%: $(BUILD)/tests/check_%.o $(CORE_OBJ) $(COMMON_OBJ)
	$(call quiet,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS)

# The control-socket suites share a harness that drives a real daemon in-process.
$(BUILD)/tests/check_ctl $(BUILD)/tests/check_render $(BUILD)/tests/check_metrics $(BUILD)/tests/check_reload $(BUILD)/tests/check_page: $(BUILD)/tests/ctlharness.o

# The range parser is mconnctl's, not the daemon's.
$(BUILD)/tests/check_range: $(BUILD)/range.o

# Every suite runs, also after one failed; then "unit: N passed, N failed".
check-unit: $(UNIT_BIN)
	@failed=0; for t in $(UNIT_BIN); do CK_FORK=yes $$t || failed=$$((failed + 1)); done; \
	echo "unit: $$(($(words $(UNIT_BIN)) - failed)) passed, $$failed failed"; [ $$failed = 0 ]

check-integration: $(PROGRAMS) $(NOTIFYRECV) | deps-test
	@BUILD=$(BUILD) sh tests/integration/run.sh

# Four mconnd in network namespaces of their own, one Prometheus, 200 targets with
# replicas = 2 (tests/fleet/t_fleet.sh; about 20 s; needs root for the namespaces).
check-fleet: $(PROGRAMS) | deps-test
	@BUILD=$(BUILD) sh tests/run.sh fleet "" tests/fleet/t_fleet.sh

# The unit, integration and systemd (notify, activation) tests again, built with ASan and
# UBSan; -k: the integration and systemd tests run also when a unit suite failed.
check-asan:
	@CK_TIMEOUT_MULTIPLIER=4 $(MAKE) -k --no-print-directory BUILD=build/asan SANITIZE=1 CFLAGS="-O1 -g" check-unit check-integration check-sd

# The daemon's integration runs again under valgrind memcheck (errors and leaks fail).
check-valgrind: $(PROGRAMS) | deps-test
	@VALGRIND=1 BUILD=$(BUILD) sh tests/integration/run.sh

# 1,000 sessions over 3 targets at 100 ms for LOAD_SECONDS (default 60): no failure,
# RSS and fds flat. 'make check' runs a 15-second version.
load: $(PROGRAMS) | deps-test
	@BUILD=$(BUILD) sh tests/load.sh

# 10,000 sessions over 4 targets for SOAK_SECONDS (default 600) with periodic faults
# and reloads: RSS, fds and CPU every 10 s; fails if RSS or fds grow. Not in 'check'.
soak: $(PROGRAMS) | deps-test
	@BUILD=$(BUILD) sh tests/soak.sh

check-load: $(PROGRAMS) | deps-test
	@LOAD_SECONDS=15 BUILD=$(BUILD) sh tests/run.sh check-load "" tests/load.sh

# What one scrape costs the loop with 10,000 sessions (SCRAPE_TARGETS=10|100|1000).
scrape-cost: $(PROGRAMS) | deps-test
	@BUILD=$(BUILD) sh tests/run.sh scrape-cost "" tests/scrape_cost.sh

# The SIGSTOP false-failure table of issue 11 (about 90 s; not part of check).
false-failures: $(PROGRAMS) | deps-test
	@BUILD=$(BUILD) sh tests/false_failures.sh

# libFuzzer harnesses (tests/fuzz/), built with clang, ASan and UBSan: the daemon's
# objects get coverage instrumentation, each harness links libFuzzer's main.
FUZZ_CC      ?= clang
FUZZ_BUILD   := $(BUILD)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=gnu11 -D_GNU_SOURCE $(WARNINGS) $(WERROR) -Iinclude $(PKG_CFLAGS) -O1 -g $(FUZZ_SAN) -MMD -MP
FUZZ_HARNESSES := parse config ctl udp cert
FUZZ_BIN     := $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_OBJ     := $(COMMON_SRC:src/%.c=$(FUZZ_BUILD)/obj/%.o) $(CORE_SRC:src/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_SECONDS ?= 60

$(FUZZ_BUILD)/obj/%.o: src/%.c | deps deps-test
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%.o: tests/fuzz/fuzz_%.c | deps deps-test
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz_%.o $(FUZZ_OBJ)
	$(call quiet,LD,$@)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)

fuzz-build: $(FUZZ_BIN)

# No warning in any build: gcc and clang, plain and with ASan (the programs, the Check
# suites, notifyrecv), and the fuzz harnesses, each with -Werror into build/warn-*.
# CI runs it (.ci/run).
check-warnings: | deps deps-test
	@for cc in gcc clang; do for san in "" 1; do \
		b=build/warn-$$cc$${san:+-asan}; echo "warnings: $$b (CC=$$cc$${san:+ SANITIZE=1})"; \
		$(MAKE) -s --no-print-directory BUILD=$$b CC=$$cc SANITIZE=$$san \
			CFLAGS="$${san:+-O1 -g}$${san:--O2 -g}" \
			WERROR=-Werror all $$b/notifyrecv $(UNIT_TESTS:%=$$b/tests/check_%) || exit 1; \
	done; done; \
	echo "warnings: build/warn-fuzz (fuzz-build)"; \
	$(MAKE) -s --no-print-directory BUILD=build/warn-fuzz WERROR=-Werror fuzz-build || exit 1; \
	echo "warnings: none in 5 builds"

# Each harness for FUZZ_SECONDS (default 60): fails on a crash, leak or timeout.
fuzz: $(FUZZ_BIN)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_BUILD)

# What 'make check' runs: every corpus replayed (the regression inputs among them),
# then 5 seconds of fuzzing per harness.
check-fuzz: $(FUZZ_BIN)
	@FUZZ_SECONDS=0 sh tests/fuzz/run.sh $(FUZZ_BUILD)
	@FUZZ_SECONDS=5 sh tests/fuzz/run.sh $(FUZZ_BUILD)

# Static checks of the shipped code, the fixture server and the fuzz harnesses (the
# Check suites are left out: cppcheck cannot see through Check's macros). The
# clang-tidy check set and why each left-out check is out: .clang-tidy. cppcheck:
# warning, style, performance and portability; variableScope is off (the house style
# declares locals at the top of a block). Suppressions in the code say why in place.
LINT_SRC := src/*.c tests/echod.c tests/fuzz/*.c
lint: | deps deps-test
	cppcheck --enable=warning,style,performance,portability --std=c11 --inline-suppr \
		--error-exitcode=1 --quiet -D_GNU_SOURCE -Iinclude \
		--suppress=missingIncludeSystem --suppress=variableScope $(LINT_SRC)
	clang-tidy --quiet $(LINT_SRC) -- -std=gnu11 -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) 2>/dev/null
	@echo "lint: cppcheck and clang-tidy clean"

# The sd_notify datagrams (order, watchdog period), systemd-socket-activate, and the
# installed units (systemd-analyze verify and security), without a running systemd.
check-sd: $(PROGRAMS) $(NOTIFYRECV) | deps-test
	@BUILD=$(BUILD) sh tests/systemd/run.sh

# The Debian package (debian/): dpkg-buildpackage -us -uc -b in a copy of the tree
# under $(BUILD)/deb/ (the worktree stays clean), which leaves mconn_VERSION_ARCH.deb,
# its -dbgsym, .buildinfo and .changes there; then lintian, which must report no error
# and no warning (there is no override; one would have to say why). Rebuilt when a
# shipped file changes.
DEB_DIR    := $(BUILD)/deb
DEB_STAMP  := $(DEB_DIR)/.built
DEB_INPUTS := Makefile $(wildcard src/*.c include/*.h man/*.[0-9] systemd/* conf/*.conf \
	conf/conf.d/* debian/* debian/source/*)
# Every pkg-config module of PKG_LIBS comes from a package Build-Depends must list.
$(DEB_STAMP): $(DEB_INPUTS) | deps-test
	@for m in $$(sed -n 's/^PKG_LIBS *= *$$(shell pkg-config --libs \(.*\))$$/\1/p' Makefile); do \
		p=$$(dpkg -S "$$(pkg-config --path $$m)" | cut -d: -f1); \
		grep -qE "^(Build-Depends:)? *$$p,$$" debian/control || \
			{ echo "deb: debian/control: Build-Depends lacks $$p (pkg-config $$m)"; exit 1; }; \
	done
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/mconn
	@tar -c --exclude-vcs --exclude=./build --exclude='./$(BUILD)' -f - . | tar -x -C $(DEB_DIR)/mconn
	@echo "deb: dpkg-buildpackage -us -uc -b in $(DEB_DIR)/mconn (log: $(DEB_DIR)/build.log)"
	@cd $(DEB_DIR)/mconn && dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
		{ tail -n 30 ../build.log; exit 1; }
	@rm -rf $(DEB_DIR)/mconn
	@touch $@
deb: $(DEB_STAMP)
	@ls $(DEB_DIR)/*.deb | sed 's/^/deb: built /'
	@lintian --fail-on error,warning --info $(DEB_DIR)/*.changes; rc=$$?; \
		[ $$rc = 0 ] && echo "lintian: no error, no warning"; exit $$rc

# The Debian package under a real systemd, booted as PID 1 of a systemd-nspawn
# container (root only): installed with dpkg, then the container reboots. The root
# file system is built once with debootstrap and cached in MCONN_ROOTFS_CACHE
# (default /var/cache/mconn).
check-systemd: $(PROGRAMS) $(DEB_STAMP) | deps-test
	@BUILD=$(BUILD) sh tests/run.sh check-systemd systemd/ tests/systemd/container.sh

# The benchmark suite (tests/bench/run.py): mconnd beside the limit and classic
# baselines, every scenario of issue 6 three times; about 7 minutes.
$(BUILD)/bench/limit: tests/bench/limit.c tests/bench/clock.h
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) -std=gnu11 $(WARNINGS) $(CFLAGS) -o $@ $<

$(BUILD)/bench/udplimit: tests/bench/udplimit.c tests/bench/clock.h
	@mkdir -p $(@D)
	$(call quiet,CC,$@)$(CC) -std=gnu11 $(WARNINGS) $(CFLAGS) -o $@ $<

bench: $(PROGRAMS) $(BUILD)/bench/limit $(BUILD)/bench/udplimit | deps-test
	@BUILD=$(BUILD) python3 tests/bench/run.py

# Latency accuracy (tests/bench/accuracy.py): a path of known cost alone and beside
# 10,000 sessions of load and a scrape a second; OLD_BUILD=DIR measures another
# build beside this one (its echod is this build's). About 90 s a build.
bench-accuracy: $(PROGRAMS) | deps-test
	@BUILD=$(BUILD) python3 tests/bench/accuracy.py

# mconnd against HAProxy's checks, blackbox_exporter and check_tcp (issue 17); the
# peers are Debian packages the script installs when missing. Not part of check.
bench-peers: $(PROGRAMS) | deps-test
	@BUILD=$(BUILD) python3 tests/bench/peers.py

lint-man: | deps-test
	@out=$$(mandoc -Tlint -W warning man/*.[0-9] 2>&1); \
	if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; echo "mandoc -Tlint: man pages clean"

# Every part runs, also after one failed; the end is one line per part and the
# closing "N passed, N failed, N skipped" (tests/check.sh). MCONN_REQUIRE_ALL=1 makes
# a skipped test fail; CHECK_MORE adds parts (CI: check-asan check-valgrind
# check-warnings lint fuzz). The two reruns of the whole suite under a checker,
# check-asan (about 6 minutes) and check-valgrind (about 5), run in CI and on demand,
# not in 'make check', which stays near 8 minutes.
CHECK_PARTS := all lint-man check-unit check-integration check-fleet check-sd deb check-systemd check-load \
	scrape-cost check-fuzz
CHECK_MORE  ?=
check: | deps-test
	@MAKE="$(MAKE)" BUILD=$(BUILD) sh tests/check.sh $(CHECK_PARTS) $(CHECK_MORE)

# The units get this install's paths, so they are written at install time, never
# cached. The admin group mconn comes from sysusers.d (run systemd-sysusers
# afterwards); the installed configuration, unless one exists, names it as
# admin_group (the unit needs the group anyway; the demo's copy cannot assume it).
UNIT_SED = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
install: $(BUILD)/mconnd $(BUILD)/mconnctl
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/mconnd $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSUSERSDIR)
	$(UNIT_SED) systemd/mconnd.service.in >$(DESTDIR)$(UNITDIR)/mconnd.service
	$(UNIT_SED) systemd/mconnd.socket.in >$(DESTDIR)$(UNITDIR)/mconnd.socket
	chmod 0644 $(DESTDIR)$(UNITDIR)/mconnd.service $(DESTDIR)$(UNITDIR)/mconnd.socket
	install -m 0644 systemd/mconnd.sysusers $(DESTDIR)$(SYSUSERSDIR)/mconnd.conf
	install -m 0755 $(BUILD)/mconnd $(DESTDIR)$(SBINDIR)/mconnd
	install -m 0755 $(BUILD)/mconnctl $(DESTDIR)$(BINDIR)/mconnctl
	install -m 0644 man/mconnd.8 man/mconnctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/mconnd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/mconn.7 $(DESTDIR)$(MANDIR)/man7/
	install -d $(DESTDIR)$(SYSCONFDIR)/mconnd/conf.d $(DESTDIR)$(DOCDIR)
	install -m 0644 conf/conf.d/local-echo.conf $(DESTDIR)$(DOCDIR)/local-echo.conf.example
	install -d $(DESTDIR)$(DOCDIR)/prometheus
	install -m 0644 conf/prometheus.yml conf/mconn-alerts.yml conf/mconn-recording.yml \
		conf/mconn-fleet-rules.yml $(DESTDIR)$(DOCDIR)/prometheus/
	test -e $(DESTDIR)$(SYSCONFDIR)/mconnd/mconnd.conf || { \
		sed 's/^#admin_group = mconn$$/admin_group = mconn/' conf/mconnd.conf \
		>$(DESTDIR)$(SYSCONFDIR)/mconnd/mconnd.conf && \
		chmod 0644 $(DESTDIR)$(SYSCONFDIR)/mconnd/mconnd.conf; }

# One line per step: what deps installs, the build, then the demo itself.
demo: | deps
	@start=$$(date +%s); \
	$(MAKE) $(if $(filter 1,$(V)),,-s) --no-print-directory -j$$(getconf _NPROCESSORS_ONLN) \
		$(DEMO_PROGRAMS) || exit 1; \
	echo "build: $(DEMO_PROGRAMS) ($$(($$(date +%s) - start)) s; V=1 shows the compiler lines)"
	@BUILD=$(BUILD) sh tests/demo.sh

clean:
	rm -rf build

-include $(shell find $(BUILD) -path '$(DEB_DIR)' -prune -o -name '*.d' -type f -print 2>/dev/null)
