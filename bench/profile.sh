#!/usr/bin/env bash
# bench/profile.sh - where does the probe's time go?
#
# Usage:  bench/profile.sh [--config NAME] [--file PCAP] [--mix290k]
#   (the same options as bench/run.js use to pick the configuration and the input; default:
#    the first configuration, flows-only, on the cached mix-1m.pcap, generated if missing)
# Env:    NPROBE_BENCH_DIR (default /tmp/nprobe-bench), TOP=25 (functions listed)
#
# 1. perf stat -e task-clock,instructions over the whole process (if perf works here);
# 2. node --cpu-prof: the V8 profile of every JS thread goes to
#    $NPROBE_BENCH_DIR/prof-<time>/, then the top self-time JS functions are printed.
#    The C++ capture thread is not sampled by V8: its cost shows in perf's task-clock
#    (vs. the JS profile's total) and, inside JS, as time in the function calling the addon.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${NPROBE_BENCH_DIR:-/tmp/nprobe-bench}
TOP=${TOP:-25}

mapfile -t CMD < <(node "$HERE/run.js" --only argv "$@")
[ "${#CMD[@]}" -ge 4 ] || { echo "profile.sh: could not get the probe command from run.js" >&2; exit 2; }
[ -f "${CMD[1]}" ] || { echo "profile.sh: ${CMD[1]} missing: build the probe first" >&2; exit 2; }
PCAP=${CMD[3]}
cat "$PCAP" > /dev/null    # page cache warm, as in run.js
echo "# command: ${CMD[*]}"

# ---- 1. perf stat
echo
echo "== perf stat"
if command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1; then
  OUT=$(mktemp)
  perf stat -e task-clock,instructions -o "$OUT" -- "${CMD[@]}" >/dev/null 2>"$OUT.err" || echo "# probe exited non-zero: $(tail -3 "$OUT.err")"
  grep -v '^$' "$OUT" | grep -v '^#'
  rm -f "$OUT" "$OUT.err"
else
  echo "perf not usable here (not installed, or perf_event_paranoid / container forbids it): skipped"
fi

# ---- 2. V8 cpu profile
echo
echo "== node --cpu-prof"
DIR=$CACHE/prof-$(date +%Y%m%d-%H%M%S)
mkdir -p "$DIR"
"${CMD[0]}" --cpu-prof --cpu-prof-dir="$DIR" "${CMD[@]:1}" >/dev/null 2>"$DIR/stderr.txt" \
  || echo "# probe exited non-zero: $(tail -3 "$DIR/stderr.txt")"
echo "# profiles in $DIR (open in Chrome DevTools > Performance, or speedscope)"

node - "$DIR" "$TOP" <<'EOF'
const fs = require('fs'), path = require('path');
const [dir, top] = [process.argv[2], Number(process.argv[3])];
for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.cpuprofile')).sort()) {
  const p = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();   // "function file:line" -> microseconds
  const files = new Map();  // file -> microseconds
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] || 0, cf = byId.get(id).callFrame;
    const file = cf.url ? cf.url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'node_modules/') : '';
    const key = `${cf.functionName || '(anonymous)'}  ${file ? `${path.basename(file)}:${cf.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) || 0) + dt);
    const group = file ? (file.startsWith('node:') ? 'node internals' : file) : (cf.functionName || '(native)');
    files.set(group, (files.get(group) || 0) + dt);
    total += dt;
  });
  const pct = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms ${(100 * us / total).toFixed(1).padStart(5)}%`;
  console.log(`\n${f}: ${(total / 1e6).toFixed(2)} s sampled`);
  console.log('-- top self time by function');
  [...self].sort((a, b) => b[1] - a[1]).slice(0, top).forEach(([k, us]) => console.log(`${pct(us)}  ${k}`));
  console.log('-- by file / category');
  [...files].sort((a, b) => b[1] - a[1]).slice(0, 12).forEach(([k, us]) => console.log(`${pct(us)}  ${k}`));
}
EOF
