// Issue 9, fault tests: SIGTERM and SIGINT in the middle of a large capture file and of a live
// capture (network namespace). Whatever the probe read before the signal is exported before it
// exits: the exported flows hold exactly the packets it counted, each 5-tuple once.
import { netnsUnavailableReason, createPair, quietLink, ADDR, NetnsPair } from '../helpers/netns';
import { flowCounts, genCapture, jsonFlows, parseSummary, pktsOf, prefixCounts, sleep, startCli, tupleKey } from '../helpers/faults';

jest.setTimeout(60_000);

describe.each(['SIGTERM', 'SIGINT'] as const)('%s in the middle of a capture file', (sig) => {
  test('every packet read is in exactly one exported flow; exit 0', async () => {
    // 2000 conversations x 10 packets over 8 s of packet time, replayed at the recorded pace:
    // the signal lands while every flow is still active.
    const { file, keys } = genCapture({ flows: 2000, perFlow: 10, spanSec: 8 });
    const c = startCli(['-i', file, '--original-speed', '-n', 'none', '--json-out', '-']);
    expect(await c.waitFor(/reading /, 10_000)).toBe(true);
    await sleep(1500);
    c.proc.kill(sig);
    expect(await c.exited).toBe(0);
    const err = c.stderr();
    expect(err).toContain(`${sig}: stopping`);
    const s = parseSummary(err);
    const flows = jsonFlows(c.stdout());
    // Stopped in the middle, not at the end.
    expect(s.packets).toBeGreaterThan(100);
    expect(s.packets).toBeLessThan(keys.length);
    expect(pktsOf(flows)).toBe(s.packets);
    expect(s.exported).toBe(flows.length);
    expect(s.active).toBe(0);
    // The probe read a prefix of the file: per 5-tuple, the flows hold exactly that prefix.
    expect(flowCounts(flows)).toEqual(prefixCounts(keys, s.packets));
    expect(new Set(flows.map(tupleKey)).size).toBe(flows.length);
    expect(new Set(flows.map((f) => f.FLOW_ID)).size).toBe(flows.length);
    expect(flows.every((f) => f.FLOW_END_REASON === 4)).toBe(true);
  });
});

const why = netnsUnavailableReason();
const live = why ? describe.skip : describe;
if (why) test.skip(`live signal tests skipped: ${why}`, () => undefined);

// A UDP sender: `conv` conversations round robin, `rate` datagrams/s, until killed.
const SENDER = `
import socket, sys, time
conv, rate = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(conv):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('${ADDR.b4}', 20000 + i))
    socks.append(s)
i = 0
t0 = time.time()
while True:
    socks[i % conv].sendto(b'x' * 40, ('${ADDR.a4}', 7000 + (i % conv)))
    i += 1
    ahead = i / rate - (time.time() - t0)
    if ahead > 0:
        time.sleep(ahead)
`;

live.each(['SIGTERM', 'SIGINT'] as const)('%s in the middle of a live capture', (sig) => {
  let pair: NetnsPair;
  beforeAll(async () => {
    pair = await createPair('sig');
    quietLink(pair);
  });
  afterAll(async () => {
    await pair?.destroy();
  });

  test('every packet libpcap delivered is in exactly one exported flow, while traffic goes on', async () => {
    // "udp": the sender's datagrams only (the ICMP port-unreachable answers are rate limited
    // and would only add noise).
    const c = startCli(['-i', pair.vethA, '-f', 'udp', '-n', 'none', '--json-out', '-'], ['ip', 'netns', 'exec', pair.nsA]);
    expect(await c.waitFor(/capturing on/, 10_000)).toBe(true);
    const sender = pair.spawnIn(pair.nsB, ['python3', '-c', SENDER, '50', '2000'], { name: 'udp sender' });
    await sleep(2000);
    c.proc.kill(sig);
    const code = await c.exited;
    await sender.stop('SIGKILL', 1000);
    expect(code).toBe(0);
    const s = parseSummary(c.stderr());
    const flows = jsonFlows(c.stdout());
    expect(s.packets).toBeGreaterThan(500);
    expect(s.nonIp).toBe(0);
    expect(pktsOf(flows)).toBe(s.packets);
    expect(s.exported).toBe(flows.length);
    // 50 conversations, each exported once (the run is far shorter than the idle timeout).
    expect(flows).toHaveLength(50);
    expect(new Set(flows.map(tupleKey)).size).toBe(50);
    expect(s.kernelDrop).toBe(0);
    expect(s.queueDrops).toBe(0);
  });
});
