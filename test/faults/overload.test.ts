// Issue 9, fault test: a live capture the process cannot keep up with. A sender in one
// namespace floods DNS-shaped datagrams from many ports; the probe in the other runs a Lua
// hook that burns 3 ms per DNS flow, so JS falls behind, the export queue (capped small here)
// fills and the capture thread, which never waits on a live interface, drops finished flows
// and counts them with their packets. The books must balance exactly: every packet libpcap
// delivered is in an exported flow or in a flow counted as dropped, and kernel drops are
// reported from pcap_stats.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { netnsUnavailableReason, createPair, quietLink, ADDR, NetnsPair } from '../helpers/netns';
import { jsonFlows, parseSummary, pktsOf, sleep, startCli, tupleKey } from '../helpers/faults';

jest.setTimeout(60_000);

const why = netnsUnavailableReason();
const live = why ? describe.skip : describe;
if (why) test.skip(`live overload test skipped: ${why}`, () => undefined);

// DNS queries (one question, A record) from `conv` source ports round robin, as fast as
// Python sends them, until killed.
const SENDER = `
import socket, struct, sys
conv = int(sys.argv[1])
socks = []
for i in range(conv):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('${ADDR.b4}', 30000 + i))
    socks.append(s)
q = struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0) + b'\\x07example\\x03com\\x00' + struct.pack('>HH', 1, 1)
i = 0
while True:
    socks[i % conv].sendto(q, ('${ADDR.a4}', 53))
    i += 1
`;

live('a live capture that cannot keep up', () => {
  let pair: NetnsPair;
  beforeAll(async () => {
    pair = await createPair('ovl');
    quietLink(pair);
  });
  afterAll(async () => {
    await pair?.destroy();
  });

  test('queue drops and kernel drops are reported; packets in flows + packets dropped = packets delivered', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-ovl-'));
    const lua = path.join(dir, 'slow.lua');
    fs.writeFileSync(lua, 'function checkDNSFlow()\n  local t = os.clock() + 0.003\n  while os.clock() < t do end\nend\n');
    // -d 1: flows end one second after their last packet, so flows finish all along.
    const c = startCli(
      ['-i', pair.vethA, '-f', 'udp', '-d', '1', '--export-queue', '64', '--lua', lua, '-n', 'none', '--json-out', '-'],
      ['ip', 'netns', 'exec', pair.nsA],
    );
    expect(await c.waitFor(/capturing on/, 15_000)).toBe(true);
    const sender = pair.spawnIn(pair.nsB, ['python3', '-c', SENDER, '2000'], { name: 'dns flood' });
    await sleep(4000);
    await sender.stop('SIGKILL', 1000);
    await sleep(1500); // the last flows go idle and try to leave
    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    const s = parseSummary(c.stderr());
    const flows = jsonFlows(c.stdout());
    expect(s.kernelDrop).not.toBeNull(); // pcap_stats was read and reported
    expect(s.queueDrops).toBeGreaterThan(0); // the overload happened
    expect(s.queueDropPackets).toBeGreaterThanOrEqual(s.queueDrops);
    expect(s.nonIp).toBe(0);
    expect(s.exported).toBe(flows.length);
    expect(pktsOf(flows) + s.queueDropPackets).toBe(s.packets);
    expect(new Set(flows.map(tupleKey)).size).toBe(flows.length);
  });
});
