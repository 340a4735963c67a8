# SPDX-License-Identifier: GPL-2.0-only
# kvmmu: a thin wrapper around Meson.  Every target first installs what it
# needs (make deps), so on a fresh Debian machine 'make run' and 'make test'
# are all there is to type.

MESON ?= meson
# Debian's python3-matplotlib is for the system's python3, which a python3
# earlier in PATH (a virtualenv, pyenv) would hide.
PLOT_PYTHON ?= $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
BUILD ?= build
FUZZ_SECONDS ?= 60
FUZZ_CI_RUNS ?= 300

.PHONY: all deps build run test asan tsan stress bench plot fuzz-build fuzz fuzz-ci check-layers \
	install examples clean

all: build

deps:
	@scripts/deps.sh

# $(call configure,DIR,MESON OPTIONS): set DIR up once; ninja re-runs meson
# by itself when a meson.build changes.
define configure
	@if [ ! -f $(1)/build.ninja ]; then $(MESON) setup $(1) $(2); fi
endef

build: deps
	$(call configure,$(BUILD),)
	@$(MESON) compile -C $(BUILD)

run: build
	@./$(BUILD)/kvmmu run

test: build
	@scripts/run-tests $(BUILD) ci unit regression scenario workload

asan: deps
	$(call configure,build-asan,-Db_sanitize=address,undefined -Dc_args=-fno-sanitize-recover=all)
	@$(MESON) compile -C build-asan
	@scripts/run-tests build-asan reduced unit regression scenario workload

tsan: deps
	$(call configure,build-tsan,-Db_sanitize=thread)
	@$(MESON) compile -C build-tsan
	@scripts/run-tests build-tsan reduced unit regression scenario workload

stress: build
	@scripts/run-tests $(BUILD) full stress

bench: deps
	$(call configure,build-release,-Dbuildtype=release -Dtests=false)
	@$(MESON) compile -C build-release
	@./build-release/kvmmu bench

# Figures: a fresh bench and workload runs at modest sizes on the release
# build, recorded under bench/results/<time>/, then SVGs of every recorded
# run under docs/plots/.  Run it on a quiet machine: the figures are timings.
plot: deps
	@scripts/deps.sh plot
	$(call configure,build-release,-Dbuildtype=release -Dtests=false)
	@$(MESON) compile -C build-release
	@$(PLOT_PYTHON) scripts/plot --collect build-release/kvmmu --results bench/results --out docs/plots

# The libFuzzer targets (fuzz/), with clang: the whole tree instrumented for
# coverage, ASan and UBSan.  make fuzz runs each for FUZZ_SECONDS from its
# corpus; make fuzz-ci a fixed FUZZ_CI_RUNS executions each (under a minute).
fuzz-build:
	@scripts/deps.sh fuzz
	@if [ ! -f build-fuzz/build.ninja ]; then CC=clang $(MESON) setup build-fuzz -Dfuzz=true \
		-Dtests=false -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=all'; fi
	@$(MESON) compile -C build-fuzz

fuzz: fuzz-build
	@fuzz/run-fuzzers.sh build-fuzz time $(FUZZ_SECONDS)

fuzz-ci: fuzz-build
	@fuzz/run-fuzzers.sh build-fuzz runs $(FUZZ_CI_RUNS)

check-layers: deps
	@python3 scripts/check-layers.py --hermetic

install: build
	@$(MESON) install -C $(BUILD)

# Install to a staging prefix (build-examples/stage), compile each installed
# header on its own, build the examples with pkg-config alone and run them.
examples: deps
	@scripts/test-install build-examples

clean:
	rm -rf $(BUILD) build-asan build-tsan build-release build-examples build-fuzz
