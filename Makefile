# Thin wrapper over CMake. `make run` and `make test` do all set-up on a fresh
# Debian 12 machine: they install missing packages first (tools/deps.sh).
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CONFIG ?= config/rampart.json
ARGS ?=

.PHONY: all build run test test-asan test-tsan bench fuzz check-banned format clean

all: build

# Configure only when the build folder is new; CMake re-runs itself after that.
define configure
	@test -f $(1)/CMakeCache.txt || cmake -S . -B $(1) $(2)
endef

build:
	@tools/deps.sh build
	$(call configure,build,)
	cmake --build build -j $(JOBS)

run:
	@tools/deps.sh build
	$(call configure,build,)
	cmake --build build -j $(JOBS) --target agent
	./build/bin/rampartd --foreground --config $(CONFIG) $(ARGS)

test:
	@tools/deps.sh test
	$(call configure,build,)
	cmake --build build -j $(JOBS)
	ctest --test-dir build --output-on-failure -j $(JOBS)

# AddressSanitizer + UBSan and ThreadSanitizer builds of the test suite.
test-asan:
	@tools/deps.sh test
	$(call configure,build-asan,-DRP_SANITIZE=asan -DCMAKE_BUILD_TYPE=Debug)
	cmake --build build-asan -j $(JOBS)
	ctest --test-dir build-asan --output-on-failure -j $(JOBS) -L 'unit|abi'

test-tsan:
	@tools/deps.sh test
	$(call configure,build-tsan,-DRP_SANITIZE=tsan -DCMAKE_BUILD_TYPE=Debug)
	cmake --build build-tsan -j $(JOBS)
	ctest --test-dir build-tsan --output-on-failure -j $(JOBS) -L 'unit|abi'

bench:
	@tools/deps.sh bench
	$(call configure,build,)
	cmake --build build -j $(JOBS)
	ctest --test-dir build --output-on-failure -L bench -C bench

# Coverage-guided fuzzing with libFuzzer (clang), FUZZ_SECONDS per target.
fuzz:
	@tools/deps.sh test
	$(call configure,build-fuzz,-DRP_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug)
	cmake --build build-fuzz -j $(JOBS)
	tools/run-fuzzers.sh build-fuzz $(FUZZ_SECONDS)

check-banned:
	tools/check-banned.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan build-fuzz
