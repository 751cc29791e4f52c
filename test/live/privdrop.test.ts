// -u USER (least privilege, issue 9): the probe opens the capture as root, then every thread
// of the process (the native capture thread included) runs as the user; flows are still
// captured and exported, and output files opened after the switch (-P dumps) are the user's.
import * as fs from 'fs';
import * as path from 'path';
import { ADDR, createPair, NetnsPair, netnsUnavailableReason, quietLink } from '../helpers/netns';
import { jsonFlows, outputLines, sleep, startCli, tmpDir } from '../helpers/faults';
import { runCli } from '../helpers/probe';

jest.setTimeout(60_000);

test('-u with a user that does not exist: one error line, exit 2, before anything is opened', () => {
  const r = runCli(['-i', 'no-such-interface-x', '-u', 'no-such-user-nprobe']);
  expect(r.status).toBe(2);
  expect(r.stderrLines).toEqual(['nprobe: error: -u no-such-user-nprobe: no such user (see nprobe --help)']);
});

const why = netnsUnavailableReason();
if (why) test.skip(`live -u test skipped: ${why}`, () => undefined);
(why ? describe.skip : describe)('-u nobody on a live capture, started as root', () => {
  let pair: NetnsPair;
  const dir = tmpDir('privdrop');
  beforeAll(async () => {
    pair = await createPair('priv');
    quietLink(pair);
  });
  afterAll(async () => {
    await pair?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('every task runs as nobody; flows are captured and exported; dumps are written as nobody', async () => {
    fs.chmodSync(dir, 0o755);
    const dump = path.join(dir, 'dump');
    fs.mkdirSync(dump);
    fs.chownSync(dump, 65534, 65534);
    const c = startCli(['-i', pair.vethA, '-f', 'icmp', '-u', 'nobody', '-n', 'none', '--json-out', '-', '-P', dump, '--dont-nest-dump-dirs'], ['ip', 'netns', 'exec', pair.nsA]);
    expect(await c.waitFor(/capturing on/, 10_000)).toBe(true);
    expect(c.stderr()).toMatch(/running as nobody \(uid 65534, gid 65534\)/);
    const ping = pair.exec(pair.nsB, ['ping', '-c', '5', '-i', '0.2', '-W', '1', ADDR.a4]);
    expect(ping.status).toBe(0);
    await sleep(300);
    // /proc/<pid>/task/*: the main thread, libuv's pool, V8's workers and the capture thread.
    const pid = c.proc.pid!;
    const tasks = fs.readdirSync(`/proc/${pid}/task`);
    expect(tasks.length).toBeGreaterThan(2);
    for (const t of tasks) {
      const st = fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      expect([t, /^Uid:\s+(.*)$/m.exec(st)![1].trim().split(/\s+/)]).toEqual([t, ['65534', '65534', '65534', '65534']]);
      expect([t, /^Gid:\s+(.*)$/m.exec(st)![1].trim().split(/\s+/)]).toEqual([t, ['65534', '65534', '65534', '65534']]);
      expect(/^Groups:\s*(.*)$/m.exec(st)![1].trim()).not.toMatch(/\b0\b/);
      expect(/^CapEff:\s+(\S+)/m.exec(st)![1]).toMatch(/^0+$/);
    }
    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    const flows = jsonFlows(c.stdout());
    expect(flows).toHaveLength(1);
    expect(flows[0]).toMatchObject({ PROTOCOL: 1, IPV4_SRC_ADDR: ADDR.b4, IPV4_DST_ADDR: ADDR.a4, IN_PKTS: 5, OUT_PKTS: 5 });
    // The dump file was opened after the switch: nobody's, with the flow in it.
    const files = fs.readdirSync(dump).filter((f) => f.endsWith('.flows'));
    expect(files).toHaveLength(1);
    expect(fs.statSync(path.join(dump, files[0])).uid).toBe(65534);
    expect(fs.readFileSync(path.join(dump, files[0]), 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
    expect(outputLines(c.stderr()).get(`dump:${dump}`)).toMatchObject({ sent: 1, dropped: 0 });
  });
});
