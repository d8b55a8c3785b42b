#!/usr/bin/env bash
# Make sure a Chromium is available for the browser (chromedp) tests.
# Installs Debian's chromium package when missing and we are root.
set -euo pipefail

log() { echo "browser: $*"; }

find_chromium() {
	if [ -x /usr/bin/chromium ]; then
		echo /usr/bin/chromium
		return 0
	fi
	local name path
	for name in chromium chromium-browser google-chrome-stable google-chrome; do
		# bash's `command -v` can report a non-executable file; check -x.
		path="$(command -v "$name" 2>/dev/null || true)"
		if [ -n "$path" ] && [ -x "$path" ]; then
			echo "$path"
			return 0
		fi
	done
	return 1
}

report() {
	local bin="$1" ver
	# Debian's launcher prints harmless shell warnings on stderr; keep them out.
	ver="$("$bin" --version 2>/dev/null || true)"
	log "${ver:-unknown version} ($bin)"
}

if bin="$(find_chromium)"; then
	report "$bin"
	exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
	log "chromium not found; installing Debian package 'chromium'"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
	if bin="$(find_chromium)"; then
		report "$bin"
		exit 0
	fi
	echo "browser: ERROR: apt-get installed chromium but no chromium binary was found" >&2
	exit 1
fi

echo "browser: ERROR: Chromium not found; install it (Debian: sudo apt-get install chromium) for the browser tests" >&2
exit 1
