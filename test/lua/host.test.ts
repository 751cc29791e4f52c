// The Lua host on records built here (the capture tests cover real captures): nProbe's
// table contract, suppression, enrichment, errors, time-outs, the memory cap, the sandbox.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FlowBatch } from '../../src/batch';
import { LuaHost, LuaLoadError } from '../../src/lua/host';
import type { FlowRecord } from '../../src/record';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nprobe-lua-'));
function script(name: string, src: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, src);
  return f;
}

function dnsFlow(id: number, extra: Partial<FlowRecord> = {}): FlowRecord {
  return {
    FLOW_ID: id,
    IP_PROTOCOL_VERSION: 4,
    IPV4_SRC_ADDR: '192.0.2.1',
    IPV4_DST_ADDR: '192.0.2.53',
    L4_SRC_PORT: 40000 + id,
    L4_DST_PORT: 53,
    PROTOCOL: 17,
    IN_PKTS: 1,
    IN_BYTES: 60,
    OUT_PKTS: 1,
    OUT_BYTES: 120,
    FIRST_SWITCHED: 1466425499,
    LAST_SWITCHED: 1466425500,
    FLOW_START_MICROSECONDS: 1466425499000000,
    FLOW_END_MICROSECONDS: 1466425500000000,
    FLOW_DURATION_MILLISECONDS: 1000,
    TCP_FLAGS: 0,
    CLIENT_TCP_FLAGS: 0,
    SERVER_TCP_FLAGS: 0,
    SRC_VLAN: 0,
    IN_SRC_MAC: '00:00:00:00:00:00',
    OUT_DST_MAC: '00:00:00:00:00:00',
    ICMP_TYPE: 0,
    FLOW_END_REASON: 1,
    L7_PROTO: 5,
    L7_PROTO_NAME: 'DNS',
    ...extra,
  } as FlowRecord;
}

const otherFlow = (id: number): FlowRecord => dnsFlow(id, { L7_PROTO: 0, L7_PROTO_NAME: 'Unknown', L4_DST_PORT: 9 });

describe('loading', () => {
  test('a syntax error gives Lua\'s file:line message', async () => {
    const f = script('bad.lua', 'function checkDNSFlow(\n  print("x")\nend\n');
    await expect(LuaHost.load(f)).rejects.toThrow(LuaLoadError);
    await expect(LuaHost.load(f)).rejects.toThrow(new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:`));
  });

  test('a runtime error at load time is an error too', async () => {
    const f = script('boom.lua', 'local x = nil\nprint(x.y)\n');
    await expect(LuaHost.load(f)).rejects.toThrow(/boom\.lua:2:/);
  });

  test('hooks are found by name; only defined ones are enabled', async () => {
    const h = await LuaHost.load(script('two.lua', 'function checkDNSFlow() end\nfunction checkSIPFlow() end\nfunction checkFooFlow() end\n'));
    expect(h.enabled.map((p) => p.name).sort()).toEqual(['DNS', 'SIP']);
    h.close();
  });
});

describe('calling hooks', () => {
  test('the table holds the common keys with strings and numbers, never nil', async () => {
    const h = await LuaHost.load(
      script(
        'keys.lua',
        `function checkDNSFlow()
           local keys = {}
           for k, v in pairs(dns) do
             assert(type(v) == "string" or type(v) == "number", k)
             keys[#keys + 1] = k .. "=" .. tostring(v)
           end
           table.sort(keys)
           dns["test.seen"] = table.concat(keys, ";")
         end`,
      ),
    );
    const [f] = h.process([dnsFlow(42)]);
    const seen = String(f.TEST_SEEN).split(';');
    expect(seen).toEqual(expect.arrayContaining([
      `nprobe.pid=${process.pid}`, 'flow.id=42', 'flow.from=192.0.2.1', 'flow.to=192.0.2.53', 'flow.sport=40042',
      'flow.dport=53', 'flow.duration=1', 'flow.beginTime=1466425499', 'flow.endTime=1466425500', 'flow.l7_proto=5', 'flow.protocol=17',
    ]));
    expect(h.stats()[0]).toMatchObject({ hook: 'checkDNSFlow', calls: 1, errors: 0 });
    expect(h.stats()[0].costMs).toBeGreaterThan(0); // a call too short for the watchdog still costs
    h.close();
  });

  test('only flows of a hooked protocol reach Lua, once each, in order', async () => {
    const h = await LuaHost.load(script('order.lua', 'n = 0\nfunction checkDNSFlow() n = n + 1; dns["x.order"] = n end\n'));
    const out = h.process([dnsFlow(1), otherFlow(2), dnsFlow(3), dnsFlow(4)]);
    expect(out.map((f) => [f.FLOW_ID, f.X_ORDER])).toEqual([[1, 1], [2, undefined], [3, 2], [4, 3]]);
    h.close();
  });

  test('returning false suppresses the export; other returns keep it', async () => {
    const h = await LuaHost.load(script('sup.lua', 'function checkDNSFlow() if dns["flow.id"] % 2 == 0 then return false end return nil end\n'));
    const out = h.process([dnsFlow(1), dnsFlow(2), dnsFlow(3), dnsFlow(4), otherFlow(6)]);
    expect(out.map((f) => f.FLOW_ID)).toEqual([1, 3, 6]);
    expect(h.suppressed).toBe(2);
    expect(h.stats()[0].suppressed).toBe(2);
    h.close();
  });

  test('changed keys go back to their fields, new keys are exported under their upper-case name', async () => {
    const h = await LuaHost.load(script('enrich.lua', 'function checkDNSFlow() dns["flow.dport"] = 5353; dns["dns.site_tag"] = "corp \\"x\\""; dns["dns.score"] = 2.5 end\n'));
    const [f] = h.process([dnsFlow(7)]);
    expect(f.L4_DST_PORT).toBe(5353);
    expect(f.DNS_SITE_TAG).toBe('corp "x"');
    expect(f.DNS_SCORE).toBe(2.5);
    h.close();
  });

  test('a runtime error is reported once per message, counted, and the flow exported unchanged', async () => {
    const logs: string[] = [];
    const h = await LuaHost.load(script('err.lua', 'function checkDNSFlow()\n  dns["a.b"] = 1\n  error("bad flow")\nend\n'), { log: (l) => logs.push(l) });
    const out = h.process([dnsFlow(1), dnsFlow(2), dnsFlow(3)]);
    expect(out).toHaveLength(3);
    expect(out[0].A_B).toBeUndefined();
    expect(h.stats()[0].errors).toBe(3);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/err\.lua:3: bad flow/);
    h.close();
  });

  test('a hook that loops forever is stopped at its budget and the next flows still run', async () => {
    const h = await LuaHost.load(script('loop.lua', 'function checkDNSFlow() if dns["flow.id"] == 2 then while true do end end dns["x.ok"] = 1 end\n'), { timeoutMs: 30, log: () => {} });
    const t0 = Date.now();
    const out = h.process([dnsFlow(1), dnsFlow(2), dnsFlow(3)]);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(out.map((f) => f.X_OK)).toEqual([1, undefined, 1]);
    expect(h.stats()[0].timeouts).toBe(1);
    h.close();
  });

  test('a slow hook is timed: total and p99 show its milliseconds', async () => {
    // Calls are timed from the watchdog's first visit (lua/prelude.lua): a few us late, so a
    // 5 ms hook shows at least ~4 ms per call and lands in the 4-8 ms p99 bucket or above.
    const h = await LuaHost.load(script('slow.lua', 'function checkDNSFlow() local t = os.clock() while os.clock() - t < 0.005 do end end\n'));
    h.process([dnsFlow(1), dnsFlow(2), dnsFlow(3), dnsFlow(4)]);
    const st = h.stats()[0];
    expect(st.calls).toBe(4);
    expect(st.totalMs).toBeGreaterThanOrEqual(16);
    expect(st.p99Us).toBeGreaterThanOrEqual(4096);
    // The calls' whole cost, timed apart (performance.now() around the batch): each call spins
    // until Lua's millisecond clock moved 5 ticks, so at least 4 ms of real time.
    expect(st.costMs).toBeGreaterThanOrEqual(16);
    h.close();
  });

  test('a hook that allocates without end hits the memory cap, not the process', async () => {
    const h = await LuaHost.load(script('mem.lua', 'hoard = {}\nfunction checkDNSFlow() for i = 1, 1e9 do hoard[#hoard + 1] = string.rep("x", 1000) .. i end end\n'), { memoryMb: 32, timeoutMs: 10000, log: () => {} });
    const out = h.process([dnsFlow(1)]);
    expect(out).toHaveLength(1);
    expect(h.stats()[0].errors).toBe(1);
    h.close();
  });

  test('the sandbox removes io, os.execute and file loading; the standard libraries stay', async () => {
    const probe = `function checkDNSFlow()
      dns["s.io"] = tostring(io); dns["s.exec"] = tostring(os and os.execute); dns["s.dofile"] = tostring(dofile)
      dns["s.date"] = os.date("!%Y", 0); dns["s.fmt"] = string.format("%03d", 7) end`;
    const open = await LuaHost.load(script('sb1.lua', probe));
    const [a] = open.process([dnsFlow(1)]);
    expect(a.S_IO).not.toBe('nil');
    const closed = await LuaHost.load(script('sb2.lua', probe), { sandbox: true });
    const [b] = closed.process([dnsFlow(1)]);
    expect([b.S_IO, b.S_EXEC, b.S_DOFILE, b.S_DATE, b.S_FMT]).toEqual(['nil', 'nil', 'nil', '1970', '007']);
    open.close();
    closed.close();
  });
});

describe('a flow\'s table is filled on demand (lua/prelude.lua) and reads like a plain one', () => {
  // Both layouts: a flow whose values fit the hook's own layout gets the on-demand table, a
  // tagged one (DNS_QUERY_TYPE as a string) a plain table; the hooks must see the same.
  const flows = (): FlowRecord[] => [
    dnsFlow(1, { DNS_QUERY: 'a.example', DNS_QUERY_TYPE: 1 }),
    dnsFlow(2, { DNS_QUERY: 'b.example', DNS_QUERY_TYPE: '28' as unknown as number }),
  ];

  test('reads, writes, rewrites to the same value and new keys', async () => {
    const h = await LuaHost.load(script('lazy1.lua', `function checkDNSFlow()
      local q1, q2 = dns["dns.query"], dns["dns.query"]
      dns["x.reads"] = q1 .. "|" .. q2 .. "|" .. tostring(dns["no.such.key"])
      dns["flow.sport"] = dns["flow.sport"]         -- the same value: not a change
      dns["dns.query"] = "w." .. q1
      dns["x.after"] = dns["dns.query"]              -- reads what the hook wrote
    end`));
    const out = h.process(flows());
    expect(out.map((f) => [f.X_READS, f.X_AFTER, f.DNS_QUERY, f.L4_SRC_PORT])).toEqual([
      ['a.example|a.example|nil', 'w.a.example', 'w.a.example', 40001],
      ['b.example|b.example|nil', 'w.b.example', 'w.b.example', 40002],
    ]);
    // Only the written keys came back as changes: the same value is not marked as one.
    expect(h.stats()[0]).toMatchObject({ calls: 2, errors: 0 });
    h.close();
  });

  test('writes through rawset() and after pairs() are seen too', async () => {
    const h = await LuaHost.load(script('lazyraw.lua', `function checkDNSFlow()
      rawset(dns, "x.raw", "r")
      if dns["flow.id"] == 1 then                  -- the on-demand table (flow 2 is tagged)
        for k in pairs(dns) do end                   -- materialized: every key held raw
        dns["flow.sport"] = 1                        -- a key the table holds: no __newindex
      end
    end`));
    const out = h.process(flows());
    expect(out.map((f) => [f.X_RAW, f.L4_SRC_PORT])).toEqual([['r', 1], ['r', 40002]]);
    h.close();
  });

  test('an unchanged table changes nothing: the record is not marked changed', async () => {
    const h = await LuaHost.load(script('lazy0.lua', 'function checkDNSFlow() local q = dns["dns.query"]; dns["flow.id"] = dns["flow.id"] end\n'));
    const b = FlowBatch.of(flows());
    const marked: number[] = [];
    const mark = b.markChanged.bind(b);
    b.markChanged = (i: number) => {
      marked.push(i);
      mark(i);
    };
    h.processBatch(b);
    expect(h.stats()[0].calls).toBe(2);
    expect(marked).toEqual([]);
    // and a hook that does write marks both
    const w = await LuaHost.load(script('lazy0w.lua', 'function checkDNSFlow() dns["flow.id"] = dns["flow.id"] + 1 end\n'));
    w.processBatch(b);
    expect(marked).toEqual([0, 1]);
    w.close();
    h.close();
  });

  test('pairs() sees every key, after and around writes; a deleted key is gone and not exported', async () => {
    const h = await LuaHost.load(script('lazy2.lua', `function checkDNSFlow()
      dns["x.new"] = 1
      dns["flow.dport"] = 5353
      dns["dns.query"] = nil
      local n, keys = 0, {}
      for k, v in pairs(dns) do n = n + 1; keys[k] = v end
      dns["x.n"] = n
      dns["x.dport"] = keys["flow.dport"]
      dns["x.query"] = tostring(dns["dns.query"]) .. "," .. tostring(keys["dns.query"])
      dns["x.id"] = keys["flow.id"]
      dns["x.next"] = next(dns) ~= nil
    end`));
    const ref = await LuaHost.load(script('lazy2ref.lua', `function checkDNSFlow()
      local n = 0
      for k in pairs(dns) do n = n + 1 end
      dns["x.n"] = n
    end`));
    const all = ref.process(flows()).map((f) => Number(f.X_N));
    const out = h.process(flows());
    out.forEach((f, i) => {
      // every key the flow has, plus the new one, minus the deleted one
      expect(f.X_N).toBe(all[i] + 1 - 1);
      expect([f.X_DPORT, f.X_QUERY, f.X_ID, f.L4_DST_PORT]).toEqual([5353, 'nil,nil', i + 1, 5353]);
      // deleting a key exports nothing for it: the field keeps its value
      expect(f.DNS_QUERY).toBe(i === 0 ? 'a.example' : 'b.example');
    });
    h.close();
    ref.close();
  });

  test('a table kept after its call keeps its own values in later batches', async () => {
    const h = await LuaHost.load(script('lazy3.lua', `function checkDNSFlow()
      if not first then first = dns; return end
      dns["x.first"] = first["dns.query"] .. "#" .. first["flow.id"]
      local n = 0
      for k, v in pairs(first) do n = n + 1 end
      dns["x.first_keys"] = n
    end`));
    h.process([dnsFlow(1, { DNS_QUERY: 'kept.example' })]);
    const out = h.process([dnsFlow(2, { DNS_QUERY: 'x' }), dnsFlow(3, { DNS_QUERY: 'y' })]);
    expect(out.map((f) => f.X_FIRST)).toEqual(['kept.example#1', 'kept.example#1']);
    expect(out[0].X_FIRST_KEYS).toBeGreaterThan(11);
    expect(out[1].X_FIRST_KEYS).toBe(out[0].X_FIRST_KEYS);
    h.close();
  });

  test('the metatable is guarded: a script cannot read or replace it', async () => {
    const logs: string[] = [];
    const h = await LuaHost.load(script('lazy4.lua', `function checkDNSFlow()
      dns["x.mt"] = tostring(getmetatable(dns))
      setmetatable(dns, {})
    end`), { log: (l) => logs.push(l) });
    const out = h.process([dnsFlow(1)]);
    expect(out[0].X_MT).toBeUndefined(); // the hook failed: nothing it wrote is applied
    expect(h.stats()[0].errors).toBe(1);
    expect(logs.join('\n')).toMatch(/protected metatable/);
    const h2 = await LuaHost.load(script('lazy5.lua', 'function checkDNSFlow() dns["x.mt"] = tostring(getmetatable(dns)) end\n'));
    expect(h2.process([dnsFlow(1)])[0].X_MT).toBe('false');
    h.close();
    h2.close();
  });
});

test('values cross into Lua exactly: bytes, integers, floats, and types that do not fit the layout', async () => {
  // The batch is binary (src/lua/host.ts BatchWriter): each flow's strings must arrive as
  // their UTF-8 bytes (NUL, \1, \2 and quotes included), integers as Lua integers, and a
  // flow whose values do not fit its hook's layout (a float, a string for a number) through
  // the tagged layout, with the same values.
  const src = `function checkDNSFlow()
  local q = dns["dns.query"]
  dns["x.bytes"] = table.concat({ string.byte(q, 1, -1) }, ",")
  local id, qt = dns["flow.id"], dns["dns.query_type"]
  dns["x.id"] = (math.type(id) or type(id)) .. ":" .. string.format(math.type(id) == "integer" and "%d" or "%.17g", id)
  dns["x.qtype"] = (math.type(qt) or type(qt)) .. ":" .. tostring(qt)
end
`;
  const h = await LuaHost.load(script('values.lua', src));
  const strings = ['plain', 'q"uote', 'back\\slash', 'nl\nand\r\ttabs', '\x00\x01\x02\x7f', 'ünï ✓', ''];
  const ids = [1, -1, 0, 1112172654366527, 1.5, 2 ** 53 + 2];
  const flows: FlowRecord[] = [];
  for (const q of strings) flows.push(dnsFlow(flows.length + 1, { DNS_QUERY: q, DNS_QUERY_TYPE: 28 }));
  for (const id of ids) flows.push(dnsFlow(id, { DNS_QUERY: 'x', DNS_QUERY_TYPE: 1 }));
  flows.push(dnsFlow(99, { DNS_QUERY: 'y', DNS_QUERY_TYPE: '28' as unknown as number }));
  const out = h.process(flows);
  expect(out).toHaveLength(flows.length);
  strings.forEach((q, i) => expect(out[i].X_BYTES).toBe([...Buffer.from(q)].join(',')));
  ids.forEach((id, i) => {
    const f = out[strings.length + i];
    const want = Number.isSafeInteger(id) ? `integer:${id}` : `float:${id === 1.5 ? '1.5' : String(id)}`;
    expect(f.X_ID).toBe(want);
    expect(f.X_QTYPE).toBe('integer:1');
  });
  expect(out[out.length - 1].X_QTYPE).toBe('string:28');
  h.close();
});
