#!/usr/bin/env bash
# The web console's browser test (console.test.mjs) against the README's demo:
# starts scripts/demo.sh on the binaries of <build dir>, waits until it runs,
# drives headless Chromium through the console, and always stops the demo.
# Exits 77 (ctest: skipped) with the reason when Chromium or the test's npm
# packages are missing — scripts/install-deps.sh installs both.
#
# Usage: test/console/run_console_test.sh <build dir>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: run_console_test.sh <build dir>}" && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "SKIPPED: no Chromium at $chromium (scripts/install-deps.sh installs Debian's chromium)"; exit 77; }
[ -d "$here/node_modules/playwright-core" ] || {
  echo "SKIPPED: $here/node_modules lacks playwright-core (scripts/install-deps.sh runs npm ci there)"; exit 77; }

state="$build/console-demo"
shots="$build/console-screenshots"
rm -rf "$state" "$shots"
mkdir -p "$state"
log="$state.log"
SREXPERT_DEMO_SKIP_BUILD=1 SREXPERT_BUILD_DIR="$build" SREXPERT_DEMO_STATE="$state" \
  bash "$root/scripts/demo.sh" >"$log" 2>&1 &
demo=$!
# TERM, not INT: a non-interactive shell starts background jobs with SIGINT
# ignored. The demo's trap stops everything it started.
stop_demo() {
  kill -TERM "$demo" 2>/dev/null || true
  for _ in $(seq 120); do kill -0 "$demo" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$demo" 2>/dev/null; then
    echo "the demo did not stop within 60 s of SIGTERM; killing it"
    kill -KILL "$demo" 2>/dev/null || true
  fi
  wait "$demo" 2>/dev/null || true
}
trap stop_demo EXIT
for _ in $(seq 1 240); do
  grep -q '^demo: running' "$log" && break
  kill -0 "$demo" 2>/dev/null || { echo "the demo exited before it ran:"; tail -n 40 "$log"; exit 1; }
  sleep 0.5
done
grep -q '^demo: running' "$log" || { echo "the demo did not come up in 120 s:"; tail -n 40 "$log"; exit 1; }

rc=0
CHROMIUM="$chromium" node "$here/console.test.mjs" "$state/console.env" "$shots" || rc=$?
[ "$rc" = 0 ] || { echo "--- the demo's log ends with:"; tail -n 20 "$log"; for f in "$state"/logs/hub.log; do echo "--- $f"; tail -n 20 "$f"; done; }
echo "screenshots: $shots"
exit "$rc"
