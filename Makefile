# Thin wrapper over CMake. `make run` and `make test` do all set-up on a fresh
# Debian 12 machine: they install missing packages first (tools/deps.sh).
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CONFIG ?= config/rampart.json
ARGS ?=
# make format-check FILES="a.c b.h": only these files (default: every C file).
FILES ?=

.PHONY: all build run test test-asan test-tsan bench fuzz check-banned format format-check clean

all: build

# Configure only when the build folder is new; CMake re-runs itself after that.
# Each build folder has its preset in CMakePresets.json (default: build/,
# asan: build-asan/, tsan: build-tsan/, fuzz: build-fuzz/), so an IDE or a
# plain `cmake --preset asan` gets the same build as make.
define configure
	@test -f $(1)/CMakeCache.txt || cmake --preset $(2)
endef

build:
	@tools/deps.sh build
	$(call configure,build,default)
	cmake --build build -j $(JOBS)

run:
	@tools/deps.sh build
	$(call configure,build,default)
	cmake --build build -j $(JOBS) --target agent
	./build/bin/rampartd --foreground --config $(CONFIG) $(ARGS)

test:
	@tools/deps.sh test
	$(call configure,build,default)
	cmake --build build -j $(JOBS)
	ctest --test-dir build --output-on-failure -j $(JOBS)

# AddressSanitizer + UBSan and ThreadSanitizer builds of the test suite.
test-asan:
	@tools/deps.sh test
	$(call configure,build-asan,asan)
	cmake --build build-asan -j $(JOBS)
	ctest --test-dir build-asan --output-on-failure -j $(JOBS) -L 'unit|abi'

test-tsan:
	@tools/deps.sh test
	$(call configure,build-tsan,tsan)
	cmake --build build-tsan -j $(JOBS)
	ctest --test-dir build-tsan --output-on-failure -j $(JOBS) -L 'unit|abi'

bench:
	@tools/deps.sh bench
	$(call configure,build,default)
	cmake --build build -j $(JOBS)
	ctest --test-dir build --output-on-failure -L bench -C bench

# Coverage-guided fuzzing with libFuzzer (clang), FUZZ_SECONDS per target.
fuzz:
	@tools/deps.sh test
	$(call configure,build-fuzz,fuzz)
	cmake --build build-fuzz -j $(JOBS)
	tools/run-fuzzers.sh build-fuzz $(FUZZ_SECONDS)

check-banned:
	tools/check-banned.sh

# The files format-check checks (tools/check-format.sh --list), so that
# `make format` makes `make format-check` pass.
format:
	clang-format -i $$(tools/check-format.sh --list)

# Reports each C file that clang-format (.clang-format) would change; changes
# nothing. FILES="..." checks only those.
format-check:
	tools/check-format.sh $(FILES)

clean:
	rm -rf build build-asan build-tsan build-fuzz
