# Outpost build. `make run` starts a node, `make test` runs the whole suite.
#
# ggml's hot kernels are C++: without -march in both CGO_CFLAGS and
# CGO_CXXFLAGS they compile for baseline x86-64 and run 3-9x slower, so every
# target builds for the machine it runs on. Keep these flags identical across
# targets: they are part of Go's build-cache key, and the llama.cpp/ggml cgo
# build is only cached when they match.
GO           ?= go
MARCH        ?= native
CGO_CFLAGS   ?= -O3 -march=$(MARCH)
CGO_CXXFLAGS ?= -O3 -march=$(MARCH)
# ggml's CPU "repack" buffers re-lay Q4_0 weights for its AVX2/NEON tiled
# kernels (upstream llama.cpp's CMake default; the cgo build leaves it out):
# Q4_0 prompts run 1.4-2.5x faster and batched decoding of concurrent
# requests scales better. (GCC warns about stringop-overflow in repack.cpp
# on a cold build; it is a false positive.)
CGO_CPPFLAGS ?= -DGGML_USE_CPU_REPACK
export CGO_CFLAGS CGO_CXXFLAGS CGO_CPPFLAGS
export CGO_ENABLED := 1
# ggml aborts the process on a failed assertion; don't let it try to print a
# gdb backtrace first.
export GGML_NO_BACKTRACE := 1

DATA   ?= ./data
LISTEN ?= 127.0.0.1:7420
NAME   ?= $(shell hostname)

.PHONY: all setup build release run test fuzz bench vet clean

all: build

# setup installs what a fresh Debian/Ubuntu machine lacks (idempotent, fast
# when everything is present). See scripts/setup.sh for macOS notes.
setup:
	@./scripts/setup.sh

build: setup
	$(GO) build -o bin/outpost ./cmd/outpost

# release targets x86-64-v3 (AVX2), 80-90% of a native build, and a baseline
# fallback for older CPUs.
release: setup
	CGO_CFLAGS="-O3 -march=x86-64-v3" CGO_CXXFLAGS="-O3 -march=x86-64-v3" $(GO) build -o bin/outpost-x86-64-v3 ./cmd/outpost
	CGO_CFLAGS="-O3" CGO_CXXFLAGS="-O3" $(GO) build -o bin/outpost-x86-64 ./cmd/outpost

run: build
	./bin/outpost node --data $(DATA) --listen $(LISTEN) --name $(NAME)

vet: setup
	$(GO) vet ./...

test: setup
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...

# fuzz runs each fuzz target briefly; FUZZTIME=10m for a real session.
FUZZTIME ?= 20s
fuzz: setup
	@./scripts/fuzz.sh $(FUZZTIME)

bench: build
	./bin/outpost bench all

clean:
	rm -rf bin
