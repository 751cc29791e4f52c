// --metrics-port (issue 9, observability): Prometheus metrics scraped over HTTP while the probe
// runs, checked against known traffic and against the probe's own exit summary.
import * as fs from 'fs';
import * as path from 'path';
import { ADDR, createPair, NetnsPair, netnsUnavailableReason, quietLink } from './helpers/netns';
import { freePort, genCapture, httpGet, parseMetrics, parseSummary, scrape, sleep, startCli, tmpDir } from './helpers/faults';
import { runCli } from './helpers/probe';

jest.setTimeout(60_000);

test('a capture replayed at its pace: packets and queue metrics during the run, 404 elsewhere', async () => {
  // 500 packets in the first 0.5 s, then one more 5 s later: a scrape in between sees 500.
  const dir = tmpDir('metrics');
  const { file } = genCapture({ flows: 50, perFlow: 10, spanSec: 0.5, tailSec: 5, file: path.join(dir, 'm.pcap') });
  const port = await freePort();
  const c = startCli(['-i', file, '--original-speed', '-n', 'none', '--json-out', '-', '--metrics-port', String(port)]);
  expect(await c.waitFor(/reading /, 10_000)).toBe(true);
  await sleep(2000);
  const m = await scrape(port);
  expect(m.get('nprobe_packets_total')).toBe(500);
  expect(m.get('nprobe_queue_capacity')).toBe(16384);
  expect(m.get('nprobe_decoded_packets_total{kind="ip"}')).toBe(500);
  expect(m.get('nprobe_export_dropped_total{output="json:stdout"}')).toBe(0);
  expect(m.has('process_resident_memory_bytes')).toBe(true);
  expect((await httpGet(`http://127.0.0.1:${port}/`)).status).toBe(404);
  expect(await c.exited).toBe(0);
  expect(parseSummary(c.stderr()).packets).toBe(501);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('--metrics-port on a port in use: one error line, exit 1', async () => {
  const port = await freePort();
  const http = await import('http');
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', () => r()));
  const r = runCli(['-i', path.resolve(__dirname, 'pcap/dns/arkime_dns_wiresharkrepo.pcap'), '--metrics-port', String(port)]);
  s.close();
  expect(r.status).toBe(1);
  expect(r.stderrLines).toEqual([`nprobe: error: --metrics-port ${port} on 127.0.0.1: EADDRINUSE`]);
});

const why = netnsUnavailableReason();
if (why) test.skip(`live metrics test skipped: ${why}`, () => undefined);
(why ? describe.skip : describe)('live capture with a Lua hook', () => {
  let pair: NetnsPair;
  const dir = tmpDir('metrics-live');
  beforeAll(async () => {
    pair = await createPair('met');
    quietLink(pair);
  });
  afterAll(async () => {
    await pair?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Six DNS queries from ports 40000..40005, one datagram each.
  const SENDER = `
import socket, struct
for i in range(6):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('${ADDR.b4}', 40000 + i))
    q = struct.pack('!HHHHHH', 0x1000 + i, 0x0100, 1, 0, 0, 0) + b'\\x07example\\x03org\\x00' + struct.pack('!HH', 1, 1)
    s.sendto(q, ('${ADDR.a4}', 53))
    s.close()
`;

  test('the scrape matches the known traffic and the exit summary: packets, flows, Lua calls/errors/suppressed', async () => {
    // Port % 3: 0 errors, 1 suppressed, 2 passes.
    const lua = path.join(dir, 'm.lua');
    fs.writeFileSync(lua, 'function checkDNSFlow()\n  local k = dns["flow.sport"] % 3\n  if k == 0 then error("boom") end\n  if k == 1 then return false end\nend\n');
    const port = 19000 + (process.pid % 1000);
    const c = startCli(['-i', pair.vethA, '-f', 'udp', '-d', '1', '--lua', lua, '-n', 'none', '--json-out', '-', '--metrics-port', String(port)], ['ip', 'netns', 'exec', pair.nsA]);
    expect(await c.waitFor(/capturing on/, 10_000)).toBe(true);
    expect(pair.exec(pair.nsB, ['python3', '-c', SENDER]).status).toBe(0);
    // Idle timeout 1 s: the six flows are exported while the probe runs.
    let m = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      await sleep(250);
      const r = pair.exec(pair.nsA, ['curl', '-sf', `http://127.0.0.1:${port}/metrics`]);
      expect(r.status).toBe(0);
      m = parseMetrics(r.stdout);
      if (m.get('nprobe_flows_exported_total') === 4 && m.get('nprobe_lua_calls_total{hook="checkDNSFlow"}') === 6) break;
    }
    expect(m.get('nprobe_packets_total')).toBe(6);
    expect(m.get('nprobe_flows_created_total')).toBe(6);
    expect(m.get('nprobe_flows_finished_total')).toBe(6);
    expect(m.get('nprobe_flows_exported_total')).toBe(4);
    expect(m.get('nprobe_flows_suppressed_total')).toBe(2);
    expect(m.get('nprobe_flows_active')).toBe(0);
    expect(m.get('nprobe_lua_calls_total{hook="checkDNSFlow"}')).toBe(6);
    expect(m.get('nprobe_lua_errors_total{hook="checkDNSFlow"}')).toBe(2);
    expect(m.get('nprobe_lua_suppressed_total{hook="checkDNSFlow"}')).toBe(2);
    expect(m.get('nprobe_lua_timeouts_total{hook="checkDNSFlow"}')).toBe(0);
    expect(m.get('nprobe_kernel_dropped_packets_total')).toBe(0);
    expect(m.get('nprobe_queue_dropped_flows_total')).toBe(0);
    expect(m.get('nprobe_export_sent_total{output="json:stdout"}')).toBe(4);
    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    // Nothing happened since the scrape: the exit summary says the same.
    const s = parseSummary(c.stderr());
    expect([s.packets, s.created, s.exported, s.suppressed, s.kernelDrop, s.queueDrops]).toEqual([
      m.get('nprobe_packets_total'), m.get('nprobe_flows_created_total'), m.get('nprobe_flows_exported_total'),
      m.get('nprobe_flows_suppressed_total'), m.get('nprobe_kernel_dropped_packets_total'), m.get('nprobe_queue_dropped_flows_total'),
    ]);
    expect(s.kernelRecv).toBe(m.get('nprobe_kernel_received_packets_total'));
    expect(c.stderr()).toMatch(/checkDNSFlow: 6 calls, 2 errors, 0 timeouts, 2 suppressed/);
    expect(c.stdout().split('\n').filter(Boolean)).toHaveLength(4);
  });
});
