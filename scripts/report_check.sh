#!/usr/bin/env bash
# Renders a report.html in headless Chromium, offline: fails on any console message or on any network
# request (read from Chromium's own net log), and saves a full-page screenshot.
# Usage: scripts/report_check.sh REPORT.html SCREENSHOT.png [HEIGHT]
set -euo pipefail
page=$(realpath "$1")
shot=$2
height=${3:-6000}
command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
  --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$tmp/profile"
  --enable-logging=stderr --v=1 --log-net-log="$tmp/net.json")
chromium "${flags[@]}" --virtual-time-budget=3000 --window-size=1280,"$height" --screenshot="$(realpath -m "$shot")" "file://$page" 2>"$tmp/log.txt" >/dev/null || true
test -s "$shot" || { cat "$tmp/log.txt"; echo "report-check: no screenshot written" >&2; exit 1; }
chromium "${flags[@]}" --dump-dom "file://$page" 2>>"$tmp/log.txt" >"$tmp/dom.html" || true
grep -q '<section id="audit">' "$tmp/dom.html" || { echo "report-check: the DOM has no audit section" >&2; exit 1; }
# The page logs nothing itself, so any console line (errors, uncaught exceptions, CSP refusals) fails.
if grep -E ':CONSOLE[:(]' "$tmp/log.txt" >"$tmp/console.txt"; then
  cat "$tmp/console.txt" >&2
  echo "report-check: console errors" >&2
  exit 1
fi
# Requests the page made: URL requests with a page origin as initiator (Chromium's own background
# requests carry "not an origin").
python3 - "$tmp/net.json" >"$tmp/urls.txt" <<'PY'
import json, sys
text = open(sys.argv[1]).read().rstrip().rstrip(",")
if not text.endswith("}"):
    text += "]}"
for e in json.loads(text).get("events", []):
    p = e.get("params", {})
    url, init = p.get("url", ""), p.get("initiator")
    if init is not None and init != "not an origin" and url.split(":")[0] in ("http", "https", "ws", "wss", "ftp"):
        print(url)
PY
if [ -s "$tmp/urls.txt" ]; then
  sort -u "$tmp/urls.txt" >&2
  echo "report-check: the page made network requests" >&2
  exit 1
fi
echo "report-check: ok — no console errors, no network requests; screenshot $shot ($(stat -c %s "$shot") bytes)"
