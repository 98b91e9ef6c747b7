#!/usr/bin/env bash
# Takes the README's screenshots from the living demo: starts `himmes serve --demo` on a spare port,
# lets the scenarios play out, and saves the status board, the timeline and a machine page under
# docs/ with headless Chromium.
#   scripts/demo-screenshots.sh [seconds to wait, default 240]
# HIMMES=path/to/himmes uses that binary instead of building a release one.
set -euo pipefail
cd "$(dirname "$0")/.."
wait_seconds=${1:-240}
port=${PORT:-18300}
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
    # A picture taken before the page painted is nearly empty (a few kB): take it again.
    for _ in 1 2 3 4 5; do
        chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$3" --timeout=5000 \
            --screenshot="docs/$1" "http://127.0.0.1:$port$2" 2>/dev/null
        (( $(stat -c %s "docs/$1") > 30000 )) && break
        sleep 2
    done
    echo "docs/$1 ($(stat -c %s "docs/$1") bytes)"
}
shoot status-board.png "/" 1400,900
shoot timeline.png "/timeline?span=15m" 1400,700
shoot machine.png "/machines/line-a-pump?span=10" 1400,1000
