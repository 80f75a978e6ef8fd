#!/usr/bin/env bash
# One-time machine setup for building and testing Outpost. Idempotent: it
# only installs what is missing, so `make` can run it on every build.
#
# Debian/Ubuntu: installs the system packages below with apt-get (as root, or
# through sudo when available).
# macOS: `brew install nlohmann-json stb`, then copy miniaudio.h (from the Go
# module github.com/gen2brain/malgo) to /usr/local/include/miniaudio/.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: llama.cpp (through github.com/ollama/ollama/llama) needs these headers.
packages=(nlohmann-json3-dev libstb-dev)
# Tests: the interop tests and the sync benchmark run real automerge-repo
# clients and OpenAI's SDK under Node.js (npm installs them from interop/package-lock.json).
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
# Tests: web/'s browser tests drive a real headless Chromium (chromedp); any
# Chrome-family browser already on PATH will do.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 &&
	! command -v google-chrome >/dev/null 2>&1; then
	packages+=(chromium)
fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
fi
if ((${#missing[@]})); then
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { echo "setup: please install: ${missing[*]}" >&2; exit 1; }
		sudo=sudo
	fi
	echo "setup: installing ${missing[*]}" >&2
	$sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
fi

# llama.cpp's mtmd sources include <miniaudio/miniaudio.h>; the header ships in
# the Go module github.com/gen2brain/malgo (the module proxy strips ollama's
# vendor/ folder). A copy on the system include path lets plain `go build`
# and `go test` work without extra flags.
dest=/usr/local/include/miniaudio/miniaudio.h
if [ ! -f "$dest" ]; then
	# Pinned: the module is not a dependency of ours, only the header's source.
	dir=$(go mod download -json github.com/gen2brain/malgo@v0.11.24 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	if [ -z "$dir" ] || [ ! -f "$dir/miniaudio.h" ]; then
		echo "setup: could not fetch github.com/gen2brain/malgo for miniaudio.h" >&2
		exit 1
	fi
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo mkdir -p "$(dirname "$dest")"
	$sudo cp "$dir/miniaudio.h" "$dest"
	echo "setup: installed $dest" >&2
fi
