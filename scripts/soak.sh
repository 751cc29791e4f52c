#!/usr/bin/env bash
# Soak test (not run in CI): live capture for N minutes with all dissectors on, while tcpreplay
# loops a mixed capture into a veth pair. Two network namespaces joined by a veth pair are
# created here and removed at the end (the conventions of test/helpers/netns.ts: names prefixed
# nprobe-, 192.0.2.1/.2); replayed frames never leave them. The probe's RSS is sampled every
# 10 s; the summary compares RSS after warm-up with RSS at the end and balances packets sent,
# received, in flows, dropped (kernel, export queue) and the anomalies.
#
# Usage (root): scripts/soak.sh [minutes=10] [packets/s=2000]
# Env: SOAK_PCAP (default: generated once with ../shared/bench/gen_mix_pcap.py into
#      /tmp/nprobe-soak/mix.pcap), SOAK_DIR (work dir, default /tmp/nprobe-soak),
#      SOAK_WARMUP (seconds before the reference RSS sample, default 60).
set -euo pipefail
main() {
minutes=${1:-10}
rate=${2:-2000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=${SOAK_DIR:-/tmp/nprobe-soak}
warmup=${SOAK_WARMUP:-60}
secs=$((minutes * 60))
[ "$(id -u)" = 0 ] || { echo "soak.sh: needs root (network namespaces)" >&2; exit 2; }
for c in ip tcpreplay python3 node; do
  command -v $c >/dev/null || { echo "soak.sh: needs $c (apt-get install -y iproute2 tcpreplay python3)" >&2; exit 2; }
done
[ -f "$root/dist/src/cli.js" ] || { echo "soak.sh: build first (npx tsc -p tsconfig.json)" >&2; exit 2; }
mkdir -p "$work"
pcap=${SOAK_PCAP:-$work/mix.pcap}
if [ ! -f "$pcap" ]; then
  gen=$root/../shared/bench/gen_mix_pcap.py
  [ -f "$gen" ] || gen=$root/bench/gen_mix_pcap.py
  # 200k packets over 120 s of flow starts: one loop lasts ~100 s at 2000 pkt/s, so flows
  # of a loop have gone idle (30 s) before the next loop replays the same 5-tuples.
  python3 "$gen" -o "$pcap" --packets 200000 --span 120 --seed 9 >&2
fi

tag=$$
nsA=nprobe-soak-$tag-a nsB=nprobe-soak-$tag-b
vA=nprobe-sa$tag vB=nprobe-sb$tag
vA=${vA:0:15} vB=${vB:0:15}
probe_pid= replay_pid=
cleanup() {
  [ -n "$replay_pid" ] && kill "$replay_pid" 2>/dev/null || true
  [ -n "$probe_pid" ] && kill -INT "$probe_pid" 2>/dev/null && sleep 2 && kill -KILL "$probe_pid" 2>/dev/null || true
  ip netns del "$nsA" 2>/dev/null || true
  ip netns del "$nsB" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$nsA"
ip netns add "$nsB"
# No IPv6 on the pair: the namespaces' own neighbour discovery and MLD packets would otherwise
# be captured too, and "sent" would not equal "received" on a loss-free run.
for ns in "$nsA" "$nsB"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done
# Both ends created inside their namespaces: nothing appears in the host namespace.
ip link add name "$vA" netns "$nsA" mtu 9000 type veth peer name "$vB" netns "$nsB" mtu 9000
ip -n "$nsA" addr add 192.0.2.1/24 dev "$vA"
ip -n "$nsB" addr add 192.0.2.2/24 dev "$vB"
ip -n "$nsA" link set "$vA" up
ip -n "$nsB" link set "$vB" up
ip -n "$nsA" link set lo up
ip -n "$nsB" link set lo up

flows=$work/flows.jsonl err=$work/probe.stderr rsslog=$work/rss.tsv
: >"$rsslog"
ip netns exec "$nsB" node "$root/dist/src/cli.js" -i "$vB" -n none --json-out "$flows" -b 2 --stats-interval 10 \
  >/dev/null 2>"$err" &
probe_pid=$!
sleep 3
kill -0 "$probe_pid" 2>/dev/null || { echo "soak.sh: the probe did not start:" >&2; cat "$err" >&2; exit 1; }
echo "soak.sh: replaying $pcap at $rate pkt/s for ${minutes} min into $vB (probe pid $probe_pid)" >&2
ip netns exec "$nsA" tcpreplay -i "$vA" --pps="$rate" --loop=0 --duration="$secs" --no-flow-stats "$pcap" \
  >"$work/tcpreplay.out" 2>&1 &
replay_pid=$!
t0=$(date +%s)
while kill -0 "$replay_pid" 2>/dev/null; do
  sleep 10
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$probe_pid/status" 2>/dev/null || echo 0)
  echo -e "$(( $(date +%s) - t0 ))\t$rss" >>"$rsslog"
done
wait "$replay_pid" || true
replay_pid=
sleep 5  # let the last frames reach the probe
kill -INT "$probe_pid"
wait "$probe_pid" || true
probe_pid=

sent=$(grep -oE 'Actual: [0-9]+ packets' "$work/tcpreplay.out" | grep -oE '[0-9]+' | tail -1)
failed=$(grep -oE 'Failed packets: +[0-9]+' "$work/tcpreplay.out" | grep -oE '[0-9]+' | tail -1)
python3 - "$rsslog" "$flows" "$err" "$warmup" "${sent:-0}" "${failed:-0}" <<'PY'
import json, re, sys
rsslog, flows, err, warmup, sent, failed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
samples = [tuple(map(int, l.split())) for l in open(rsslog) if l.strip()]
in_flows = n_flows = 0
for line in open(flows):
    if not line.strip(): continue
    f = json.loads(line)
    n_flows += 1
    if not f.get("OUTER_FLOW_ID"): in_flows += f["IN_PKTS"] + f["OUT_PKTS"]
text = open(err).read()
def num(pat, default=0):
    m = re.search(pat, text, re.M)
    return int(m.group(1)) if m else default
packets = num(r"^nprobe: (\d+) packets")
m = re.search(r"^nprobe: decode: (\d+) IP, (\d+) non-IP, (\d+) undecodable, \d+ fragments \(\d+ datagrams reassembled, (\d+) fragment", text, re.M)
non_ip, undecodable, unattributed = (int(m.group(i)) for i in (2, 3, 4)) if m else (0, 0, 0)
kdrop = num(r"^nprobe: drops: kernel (\d+)")
krecv = num(r"^nprobe: drops: kernel \d+ \(of (\d+) received\)")
ifdrop = num(r"interface (\d+), export queue")
qdrop = num(r"export queue (\d+)$")
anom = re.search(r"^nprobe: anomalies: (.*)$", text, re.M)
ref = next((r for t, r in samples if t >= warmup), samples[0][1] if samples else 0)
end = samples[-1][1] if samples else 0
peak = max((r for _, r in samples), default=0)
after = [r for t, r in samples if t >= warmup]
print("soak summary")
print(f"  duration           {samples[-1][0] if samples else 0} s, {len(samples)} RSS samples")
print(f"  RSS after warm-up  {ref / 1024:.1f} MiB (t={warmup} s)")
print(f"  RSS at the end     {end / 1024:.1f} MiB ({(end - ref) / 1024:+.1f} MiB, {100 * (end - ref) / max(ref, 1):+.1f} %); "
      f"after warm-up min {min(after, default=0) / 1024:.1f} / max {max(after, default=0) / 1024:.1f} MiB; peak {peak / 1024:.1f} MiB")
print(f"  packets sent       {sent} (tcpreplay; {failed} failed to send)")
print(f"  packets received   {packets} (probe; kernel says {krecv} received)")
print(f"  packets in flows   {in_flows} in {n_flows} flows outside tunnels; {non_ip} non-IP, {undecodable} undecodable, {unattributed} unattributed fragments")
bal = in_flows + non_ip + undecodable + unattributed
print(f"  books              received - (in flows + not in flows) = {packets - bal}")
print(f"  drops              kernel {kdrop}, interface {ifdrop}, export queue {qdrop}; sent - received = {sent - packets}")
print(f"  anomalies          {anom.group(1) if anom else '?'}")
PY
echo "soak.sh: files in $work (rss.tsv, probe.stderr, flows.jsonl, tcpreplay.out)" >&2
}
main "$@"; exit $?
