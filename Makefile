SHELL := /bin/bash
# Thin wrapper over CMake for the README's commands.
#   make run    set up, build, install the models, start the server on :8000
#   make test   set up, build with -Werror (gcc), run the tests, then again under ASan+UBSan
#               (clang, which also runs every fuzz target for KADR_FUZZ_SECONDS)
#   make bench  set up and run the benchmarks under bench/
#   make fmt    clang-format the sources
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
KADR := $(BUILD)/src/cli/kadr
SERVE_ARGS ?=

.PHONY: all run test test-fast bench soak-organize fmt build asan models clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKADR_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

asan:
	CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DKADR_WERROR=ON -DKADR_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j$(JOBS)

models:
	node scripts/install-models.mjs

run:
	scripts/setup.sh run
	$(MAKE) build models
	exec $(KADR) serve $(SERVE_ARGS)

# Each build's CTest log goes to <build>/ctest.log for .ci/run's summary.
test:
	scripts/setup.sh test
	$(MAKE) build
	cd $(BUILD) && ctest -j$(JOBS) --output-on-failure 2>&1 | tee ctest.log; exit $${PIPESTATUS[0]}
	$(MAKE) asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest -j$(JOBS) --output-on-failure -LE no-asan 2>&1 | tee ctest.log; exit $${PIPESTATUS[0]}

# The normal build's tests only, for quick iterations.
test-fast: build
	cd $(BUILD) && ctest -j$(JOBS) --output-on-failure

bench:
	scripts/setup.sh bench
	$(MAKE) build
	@for b in bench/*.sh; do [ -x "$$b" ] && echo "== $$b" && BUILD=$(BUILD) "$$b" $(KADR) || true; done

# One benchmark: `make bench-nn` runs bench/nn.sh with the kadr binary (also
# img, sort, cluster, organize, catalog, server). Each prints its figures beside
# a reference measured in the same run.
bench-%:
	scripts/setup.sh bench
	$(MAKE) build
	BUILD=$(BUILD) bench/$*.sh $(KADR)

# organize: the SIGKILL test with many more trials (KADR_KILL_TRIALS, KADR_KILL_SEED).
soak-organize: build
	KADR_KILL_TRIALS=$${KADR_KILL_TRIALS:-5000} $(BUILD)/tests/organize/organize_test_kill

fmt:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
