#!/usr/bin/env bash
# Render a volfit HTML report in headless Chromium, fail on console errors, write a screenshot.
#
#   scripts/render_report.sh DIR/report.html [OUT.png] [WIDTH,HEIGHT]
#
# Needs Debian's `chromium` package (apt-get install -y chromium). Run by humans; CI does not
# need it. Exit codes: 0 rendered cleanly; 1 console errors or failed resource loads; 2 usage
# or Chromium missing / crashed.
set -euo pipefail

report=${1:?usage: $0 REPORT.html [OUT.png] [WIDTH,HEIGHT]}
out=${2:-${report%.html}.png}
size=${3:-1100,6000}
[[ -f $report ]] || { echo "no such file: $report" >&2; exit 2; }
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n $chrome ]] || { echo "chromium not found (apt-get install -y chromium)" >&2; exit 2; }

url="file://$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
profile=$(mktemp -d)
log=$(mktemp)
dom=$(mktemp)
trap 'rm -rf "$profile" "$log" "$dom"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$profile" --enable-logging=stderr --v=0 --hide-scrollbars)

# 1. The screenshot (its stderr carries the console log).
timeout 120 "$chrome" "${flags[@]}" --window-size="$size" --screenshot="$out" "$url" 2>"$log" \
    || { echo "chromium failed:" >&2; tail -20 "$log" >&2; exit 2; }
[[ -s $out ]] || { echo "no screenshot written" >&2; tail -20 "$log" >&2; exit 2; }

# 2. The DOM after load: the page must have parsed into the expected sections and charts.
timeout 120 "$chrome" "${flags[@]}" --dump-dom "$url" >"$dom" 2>>"$log" \
    || { echo "chromium --dump-dom failed" >&2; exit 2; }

status=0
# Chromium logs every console message as `INFO:CONSOLE` (errors and uncaught exceptions
# included). The report has no script, so any console message at all is a failure.
if grep -E ':CONSOLE[:(]|Uncaught|Failed to load resource' "$log" >&2; then
    echo "console messages while rendering $report" >&2
    status=1
fi
# Failed loads are not console messages in headless mode: the page must reference no
# resource at all (self-contained: inline SVG and CSS only).
if grep -Eo '<(img|link|iframe|object|embed|audio|video|source)[^>]*>|url\([^)]*\)|@import' "$dom" >&2; then
    echo "external resource references in $report" >&2
    status=1
fi
charts=$(grep -o '<figure class="chart' "$dom" | wc -l)
svgs=$(grep -o '<svg' "$dom" | wc -l)
if [[ $charts -eq 0 || $svgs -lt $charts ]]; then
    echo "rendered DOM has $charts chart figures and $svgs SVGs" >&2
    status=1
fi
if grep -q '<script' "$dom"; then
    echo "rendered DOM contains a <script> element (the report has none; escaping failed?)" >&2
    status=1
fi
echo "$out: $charts charts, $svgs SVGs, console $( [[ $status -eq 0 ]] && echo clean || echo ERRORS )"
exit $status
