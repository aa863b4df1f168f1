#!/usr/bin/env bash
# Runs `CI=true npm test` in N fresh clones of this checkout's HEAD, one after another, each in a
# private `mktemp -d` directory (mode 0700) with its own HOME and empty npm cache and no pip cache,
# as a new user or CI meets the project; `busy` adds two busy loops pinning both cores. A failed
# clone keeps its log. Usage: scripts/fresh-clones.sh N [busy]
set -u
n=${1:?how many clones}
busy=${2:-}
here=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
commit=$(git -C "$here" rev-parse --short HEAD)
pass=0
fail=0
loops=()
if [ "$busy" = busy ]; then
  yes > /dev/null & loops+=($!)
  yes > /dev/null & loops+=($!)
fi
trap '[ ${#loops[@]} -gt 0 ] && kill "${loops[@]}" 2>/dev/null' EXIT
for i in $(seq 1 "$n"); do
  d=$(mktemp -d)
  git clone -q "$here" "$d/forkless"
  start=$(date +%s)
  (cd "$d/forkless" && HOME="$d/home" npm_config_cache="$d/npm-cache" PIP_NO_CACHE_DIR=1 CI=true npm test > "$d/log" 2>&1 < /dev/null)
  rc=$?
  secs=$(($(date +%s) - start))
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1))
    echo "clone $i ($commit${busy:+, busy}): passed in ${secs}s"
    rm -rf "$d"
  else
    fail=$((fail + 1))
    echo "clone $i ($commit${busy:+, busy}): FAILED (exit $rc) in ${secs}s; log: $d/log"
    grep -E "^\(fail|error:|panic" "$d/log" | head -20
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
