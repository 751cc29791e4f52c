// The only loader of the native addon (build/Release/nprobe_native.node, or the file named by
// $NPROBE_NATIVE_ADDON) and its types.
import * as fs from 'fs';
import * as path from 'path';

export interface NativeOptions {
  source: string;
  isFile: boolean;
  filter?: string;
  snaplen?: number;
  promisc?: boolean;
  maxFlows?: number;
  idleTimeoutUs?: number;
  activeTimeoutUs?: number;
  queueRecords?: number;
  originalSpeed?: boolean;
  dissect?: boolean;
  /** Dissectors may export credentials (FTP_PASSWORD). */
  credentials?: boolean;
  /** `-i nf:N`: the kernel accepts the queue's packets while nobody listens (--queue-bypass). */
  queueBypass?: boolean;
}

/** The connection hook as the capture thread applied it (native/capture/intercept.h). */
export interface NativeInterceptStats {
  /** Connections handed to JS. */
  conns: number;
  /** Connections waiting for their verdict now. */
  pending: number;
  /** Live: the pending queue was full, the default verdict applied without the hook. */
  fullDefaults: number;
  /** Live: no verdict came within the time-out plus a grace, the default applied natively. */
  nativeTimeouts: number;
  /** A flow ended (live) before its verdict came: the default applied. */
  exportDefaults: number;
  none: number;
  pass: number;
  drop: number;
  check: number;
  reject: number;
  rstSent: number;
  rstFailed: number;
  nfAccepted: number;
  nfDropped: number;
  nfKernelDrops: number;
}

export interface NativeStats {
  packets: number;
  wireBytes: number;
  ipPackets: number;
  nonIp: number;
  undecodable: number;
  fragments: number;
  reassembled: number;
  fragUnattributed: number;
  tunneled: number;
  flowsCreated: number;
  flowsActive: number;
  flowsExported: number;
  flowsEvicted: number;
  queueDrops: number;
  /** Packets of the flows in queueDrops (live: the books still balance). */
  queueDropPackets: number;
  queueDepth: number;
  kernelRecv: number;
  kernelDrop: number;
  kernelIfDrop: number;
  kernelStatsValid: boolean;
  fileSize: number;
  filePos: number;
  fragInFlight: number;
  fragBytes: number;
  tableBytes: number;
  /** CPU time the capture thread has used, µs: near the elapsed time, it is the bottleneck. */
  captureCpuUs: number;
  /** CPU time of the file reader's thread (0 when not reading a file). */
  readerCpuUs: number;
  /** File mode: 'block' (classic pcap records read in blocks) or 'libpcap' (pcap_next_ex); '' live. */
  fileReader: 'block' | 'libpcap' | '';
  firstTsUs: number;
  lastTsUs: number;
  anomalies: Record<string, number>;
  running: boolean;
  done: boolean;
  warning?: string;
  intercept?: NativeInterceptStats;
  /** Inline capture from NFQUEUE (-i nf:N). */
  nfqueue?: boolean;
}

export interface NativeProbe {
  open(): void;
  start(onSignal: () => void): void;
  /** Finished flows (record.ts layout): a view of a buffer the next readBatch() rewrites. */
  readBatch(max: number): Buffer | null;
  stop(): void;
  abort(): void;
  close(): void;
  stats(): NativeStats;
  isDone(): boolean;
  info(): { linktype: number; linktypeName: string };
  /** Before start(): the connection hook on/off, its default verdict code, time-out, --intercept-rst. */
  configureIntercept(o: { on: boolean; defaultVerdict: number; timeoutMs: number; rst?: boolean }): void;
  /** New connections (connEventSize bytes each, src/intercept/events.ts), or null. */
  readConns(max: number): Buffer | null;
  /** Verdicts by flow id: FLOW_VERDICT codes (0 no hook, 1 pass, 2 drop, 3 check, 4 reject). */
  setVerdicts(ids: Float64Array | number[], codes: Uint8Array | number[]): void;
}

export interface TestDissectResult {
  probe: boolean[];
  l7: number;
  fields: Buffer;
  anomalies: string[];
}

export interface TestReassembleResult {
  data: Buffer;
  gaps: number[];
  events: number[];
  waiting: number;
}

/** Where each key of a hook's table comes from (native/export/lua_batch.h LuaKeySpec::Src). */
export enum LuaKeySrc { Pid, FlowId, From, To, Sport, Dport, Duration, Begin, End, L7, Proto, Ext }

export interface LuaBatchSpec {
  pid: number;
  hooks: Array<{ index: number; l7: number[]; keys: Array<{ src: LuaKeySrc; int: boolean; name?: string }> }>;
}

export interface NativeModule {
  /** Test-only: one direction of TCP reassembly. */
  testReassemble(
    segments: Array<{ seq?: number; syn?: boolean; fin?: boolean; data?: Buffer; wire?: number; ack?: number }>,
    flush?: boolean,
  ): TestReassembleResult;
  /** Test-only: one dissector over given payloads (no capture). */
  testDissect(
    name: string,
    packets: Array<{ dir: number; data?: Buffer; gap?: number; ts?: number; sport?: number; dport?: number }>,
    options?: { credentials?: boolean },
  ): TestDissectResult;
  /** Test-only: the text dissectors write for a 4- or 16-byte address (RFC 5952 for IPv6). */
  testIpText(addr: Buffer): string;
  /** Test-only: a TCP dissector's stream probe (1 yes, 0 need more, -1 no). */
  testProbeStream(name: string, c2s: Buffer, s2c: Buffer, clientPort: number, serverPort: number): number;
  NativeProbe: new (opts: NativeOptions) => NativeProbe;
  /** L7 names by nDPI id for formatJson (plugins/l7.ts is their source). */
  setL7Names(names: string[]): void;
  /** JSON lines of a readBatch() buffer (native/export/json_lines.h). */
  formatJson(batch: Buffer): { text: Buffer; ends: Uint32Array; fallback: Uint32Array };
  /** The Lua hooks' batch layout for a Lua host (native/export/lua_batch.h); null forgets it. */
  setLuaSpec(id: number, spec: LuaBatchSpec | null): void;
  /** A readBatch() buffer's hooked flows as a Lua batch, or null when JS must build it. */
  luaBatch(id: number, batch: Buffer): { bytes: Buffer; flows: Uint32Array } | null;
  /** Ends the process with `code` within `ms`, even if Node's own exit hangs (addon.cc says why). */
  exitAfter(code: number, ms: number): void;
  anomalyNames: string[];
  recordFixedSize: number;
  connEventSize: number;
  libpcapVersion: string;
}

let cached: NativeModule | undefined;

export function loadNative(): NativeModule {
  if (cached) return cached;
  // Compiled: dist/src/native.js; under ts-jest: src/native.ts. Both find <package>/build.
  const candidates = [path.resolve(__dirname, '..', '..'), path.resolve(__dirname, '..')].map((root) =>
    path.join(root, 'build', 'Release', 'nprobe_native.node'),
  );
  // NPROBE_NATIVE_ADDON names another build of the addon (the ASan one: npm run test:asan).
  const override = process.env.NPROBE_NATIVE_ADDON;
  const file = override ? path.resolve(override) : (candidates.find((f) => fs.existsSync(f)) ?? candidates[0]);
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    cached = require(file) as NativeModule;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new Error(`native addon not loaded (${why}); build it with: npm install (needs libpcap-dev)`);
  }
  return cached;
}
