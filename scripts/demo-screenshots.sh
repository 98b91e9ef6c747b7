#!/usr/bin/env bash
# Takes the README's screenshots from the living demo: starts `himmes serve --demo` on a spare port,
# lets the scenarios play out, and saves the status board, the timeline and a machine page under
# docs/ with headless Chromium.
#   scripts/demo-screenshots.sh [seconds to wait, default 240]
# HIMMES=path/to/himmes uses that binary instead of building a release one.
set -euo pipefail
cd "$(dirname "$0")/.."
wait_seconds=${1:-240}
port=18_300
port=${port//_/}
if [[ -z "${HIMMES:-}" ]]; then
    swift build -c release --product himmes >/dev/null
    HIMMES=.build/release/himmes
fi
"$HIMMES" serve --demo --port "$port" --log-level warning &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
echo "waiting ${wait_seconds}s for the scenarios to play out..."
sleep "$wait_seconds"
shoot() {
    # --timeout lets the page's scripts run and draw before the picture is taken.
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$3" --timeout=4000 \
        --screenshot="docs/$1" "http://127.0.0.1:$port$2" 2>/dev/null
    echo "docs/$1"
}
shoot status-board.png "/" 1400,900
shoot timeline.png "/timeline?span=15m" 1400,700
shoot machine.png "/machines/line-a-pump?span=10" 1400,1000
