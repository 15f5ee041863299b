# ngx_llm_route_module
#
#   make            module + command-line tools, against this machine's nginx
#   make test       unit tests (core/) and the prove suite (t/)
#   make demo       start nginx with the module and the mock provider
#   make test-asan  everything again with AddressSanitizer + UBSan
#   make fuzz       the libFuzzer targets, FUZZ_SECONDS each (default 60)
#   make bench      throughput and instruction-count benchmarks (bench/)
#   make train      retrain models/default.model from ../shared/data
#   make calibrate  the tiers of conf-examples/tiers.conf on a typical mix
#   make check-generated  generated files are what their generators write
#   make deps       install what is missing (Debian packages)
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
CFLAGS_CORE  := -std=gnu99 -O2 -g -Wall -Wextra -Werror -Wpointer-arith \
                -Wno-unused-parameter -I$(CORE)
SAN          ?=
TEST_JOBS    ?= 2
LIBS         := -lyajl -lpcre2-8 -lm

CORE_SRCS    := $(sort $(wildcard $(CORE)/llr_*.c))
CORE_HDRS    := $(sort $(wildcard $(CORE)/llr_*.h))
CORE_OBJS    := $(patsubst $(CORE)/%.c,$(BUILD)/core/%.o,$(CORE_SRCS))
MOD_SRCS     := $(wildcard $(MOD)/*.c $(MOD)/*.h) $(CORE_SRCS) $(CORE_HDRS)
TOOLS        := $(patsubst tools/%.c,$(BUILD)/%,$(wildcard tools/llm-route-*.c))
UNIT_SRCS    := $(sort $(wildcard t/unit/test_*.c))
UNIT_BINS    := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

DEBIAN_PKGS  := nginx-core nginx-dev libyajl-dev libpcre2-dev gcc make \
                perl curl
TEST_PKGS    := prometheus chromium valgrind clang libclang-rt-14-dev wrk

.PHONY: all module tools unit test test-unit demo demo-stop deps \
        deps-check deps-check-test clean train calibrate check-generated \
        test-asan fuzz bench

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

$(BUILD)/llm-route-%: tools/llm-route-%.c $(CORE_OBJS)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_CORE) $(SAN) -o $@ $< $(CORE_OBJS) $(LIBS)

$(BUILD)/unit/%: t/unit/%.c t/unit/tap.h $(CORE_OBJS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS_CORE) $(SAN) -It/unit -o $@ $< $(CORE_OBJS) $(LIBS)

unit: $(UNIT_BINS)

# --- tests -------------------------------------------------------------------

test: deps-check deps-check-test all unit
	prove --exec '' $(UNIT_BINS)
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_MODULE=$(BUILD)/ngx_http_llm_route_module.so \
	    prove -j$(TEST_JOBS) -I t/lib t/*.t

test-unit: unit
	prove --exec '' $(UNIT_BINS)

# the module, tools and unit tests with ASan + UBSan, the whole suite
# against them, and the unit tests under valgrind (tools/test-asan.sh)
test-asan: deps-check deps-check-test all unit
	bash tools/test-asan.sh

fuzz: deps-check deps-check-test
	bash fuzz/run.sh

bench: deps-check deps-check-test all
	bash bench/callgrind.sh
	bash bench/callgrind-nginx.sh --size 2k --resp json
	bash bench/callgrind-nginx.sh --size 2k --resp sse
	bash bench/run.sh $(BENCH_ARGS)

# --- demo --------------------------------------------------------------------

demo: deps-check all
	@bash tools/demo.sh start

demo-stop:
	@bash tools/demo.sh stop

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
	bash tools/train-default.sh

# each tier's floors, found again on the typical mix of the training data
# (docs/selection.md); CALIBRATE_ARGS: other options of llm-route-calibrate
calibrate: tools
	@[ -f $(BUILD)/train-data/typical-mix.jsonl ] || { \
	    mkdir -p $(BUILD)/train-data && \
	    perl tools/llr-prep-data.pl $${LLR_DATA:-../shared/data} models \
	        $(BUILD)/train-data; }
	for t in frugal balanced premium; do \
	    $(BUILD)/llm-route-calibrate -c conf-examples/tiers.conf -p $$t \
	        --tier $$t $(CALIBRATE_ARGS) \
	        $(BUILD)/train-data/typical-mix.jsonl || exit 1; done

# LLR_CHECK_TRAIN=1: also make train, compared bit for bit
check-generated: tools
	BUILD=$(BUILD) sh tools/check-generated.sh

clean:
	rm -rf $(BUILD)

FORCE:
