#!/usr/bin/env bash
# ASan + UBSan run of the native addon (npm run test:asan). Builds the addon with
# -fsanitize=address,undefined into its own directory ($NPROBE_ASAN_DIR, default build/asan),
# never touching build/Release, then runs the capture-file, end-to-end, dissector and fuzz-style
# jest suites against it: src/native.ts loads $NPROBE_NATIVE_ADDON, and the CLI processes the tests
# spawn inherit the same environment.
#
# Node itself is not instrumented, so the ASan runtime must be the first library loaded:
# LD_PRELOAD of the compiler's libasan.so. detect_leaks=0 because node (V8 isolates, libuv,
# OpenSSL, the module cache) deliberately leaves its heap to the OS at exit; LeakSanitizer
# would report all of it and make every node process exit non-zero. Memory errors (overflows,
# use-after-free, double free) and undefined behaviour still stop the process at the first
# report (halt_on_error), with a stack trace. detect_stack_use_after_return: the capture
# thread hands packets around by pointer; one kept past its frame's decode is a report.
# Usage: scripts/test-asan.sh [--build-only] [jest test paths...]
#        (default: test/pcap test/e2e test/dissect test/fuzz test/unit test/intercept/passive.test.ts
#         test/lua/batch.test.ts: everything that drives native code from capture files)
set -euo pipefail
main() {
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${NPROBE_ASAN_DIR:-$root/build/asan}
mkdir -p "$dir"
cxx=${CXX:-g++}
asan=$($cxx -print-file-name=libasan.so)
[ -f "$asan" ] || { echo "test-asan.sh: $cxx has no libasan.so (apt-get install -y build-essential)" >&2; exit 2; }
# The release binding.gyp with paths made relative to $dir and the sanitizer flags added.
# Rewritten only when it changes, so node-gyp builds incrementally.
node - "$root" "$dir" <<'JS'
const fs = require('fs'), path = require('path');
const [root, dir] = process.argv.slice(2);
const gyp = JSON.parse(fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8').replace(/^\s*#.*$/gm, ''));
const t = gyp.targets[0];
const rel = path.relative(dir, root);
t.sources = t.sources.map((s) => path.join(rel, s));
t.include_dirs = [path.join(root, 'node_modules', 'node-addon-api')];
const san = ['-fsanitize=address,undefined', '-fno-sanitize=vptr', '-fno-omit-frame-pointer', '-fno-sanitize-recover=undefined', '-g', '-O1'];
t.cflags = [...(t.cflags ?? []), ...san];
t.cflags_cc = [...(t.cflags_cc ?? []).filter((f) => !/^-O/.test(f)), ...san];
t.ldflags = [...(t.ldflags ?? []).filter((f) => f !== '-Wl,--as-needed'), '-fsanitize=address,undefined'];
delete t.conditions;
const text = JSON.stringify(gyp, null, 2) + '\n';
const out = path.join(dir, 'binding.gyp');
if (!fs.existsSync(out) || fs.readFileSync(out, 'utf8') !== text) fs.writeFileSync(out, text);
JS
cd "$dir"
if [ ! -f build/Makefile ] || [ binding.gyp -nt build/Makefile ]; then
  "$root/node_modules/.bin/node-gyp" configure --loglevel=warn
fi
"$root/node_modules/.bin/node-gyp" build --loglevel=warn
cd "$root"
if [ "${1:-}" = --build-only ]; then echo "$dir/build/Release/nprobe_native.node"; return 0; fi
export NPROBE_NATIVE_ADDON=$dir/build/Release/nprobe_native.node
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
[ $# -gt 0 ] || set -- test/pcap test/e2e test/dissect test/fuzz test/unit test/intercept/passive.test.ts test/lua/batch.test.ts
echo "test-asan.sh: jest $* against $NPROBE_NATIVE_ADDON (LD_PRELOAD=$asan)" >&2
LD_PRELOAD=$asan NODE_OPTIONS=--experimental-vm-modules "$root/node_modules/.bin/jest" "$@"
}
main "$@"; exit $?
