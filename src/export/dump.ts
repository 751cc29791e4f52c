// Flow dump files, as nProbe writes them.
//
// -P DIR: one file per -F seconds (default 60) under DIR/YYYY/MM/DD/HH/MM/ (UTC; flat in DIR
// with --dont-nest-dump-dirs), named <epoch of the period>.flows (text) or .json (-D j). A file
// is written as <name>.temp and renamed when its period is over (or at exit), so a reader never
// sees half a file. Text: a header line of element names, then one line per flow, values
// separated by "|" (--csv-separator); in a value, "\" "|" (the separator) and line breaks are
// escaped as \\ \| \n. Columns are the -T template (nProbe's default one without -T), plus the
// IPv6 addresses when the template names only IPv4 ones (and the other way round), so every
// flow has its addresses. Times are epoch seconds, as in JSON. -D j writes the same columns as
// JSON objects. The clock that cuts periods is the flows' (the latest flow end seen) reading a
// capture file, so the same file gives the same dump files; live, it is the wall clock, and an
// idle period is closed on time.
//
// --<proto>-dump-dir DIR: that protocol's flows (by L7_PROTO, via its plugin) in DIR/YYYY/MM/DD
// (flat with --dont-nest-dump-dirs), at most 1000 lines a file like nProbe's plugin logs:
// tab-separated with a "#" header line (times, flow id, endpoints, the plugin's fields); with
// -D j, the complete flow records as JSON lines.
//
// A directory that becomes unwritable or disappears while the probe runs costs lines, never
// capture: a file that cannot be opened, written or renamed into place has its lines counted as
// dropped (`dropped`, `errors`, `lastError`), and the next flows try a new file (a removed
// directory is made again). `written` counts only lines in files that are (or will be, for the
// open one) in place, so written + dropped = flows offered.
import { flowToJson } from './json';
import * as fs from 'fs';
import * as path from 'path';
import { PLUGINS } from '../../plugins';
import { FlowRecord } from '../record';
import { ElementDef, elementByName, isStringType } from './fields';

/** Lines in one per-protocol log file (nProbe's plugin dumps: "at most 1000-lines long"). */
export const MAX_LINES_PER_PROTOCOL_FILE = 1000;
/** Bytes the dump may hand to the file stream before write() waits for it (back-pressure). */
const STREAM_HIGH_WATER = 1 << 20;

/** The per-protocol dump options, the protocol as nProbe's message names it, and its nDPI ids. */
export const PROTOCOL_DUMPS: ReadonlyArray<{ option: string; label: string; plugin: string; l7: number[] }> = [
  { option: 'dns-dump-dir', label: 'DNS', plugin: 'DNS', l7: [5] },
  { option: 'http-dump-dir', label: 'HTTP', plugin: 'HTTP', l7: [7] },
  { option: 'sip-dump-dir', label: 'SIP', plugin: 'SIP', l7: [100] },
  { option: 'radius-dump-dir', label: 'RADIUS', plugin: 'RADIUS', l7: [146] },
  { option: 'gtpv1-dump-dir', label: 'GTPV1', plugin: 'GTPV1', l7: [272, 152] },
  { option: 'smtp-dump-dir', label: 'SMTP', plugin: 'SMTP', l7: [3] },
  { option: 'imap-dump-dir', label: 'IMAP', plugin: 'IMAP', l7: [4] },
  { option: 'pop-dump-dir', label: 'POP', plugin: 'POP', l7: [2] },
  { option: 'ftp-dump-dir', label: 'FTP', plugin: 'FTP', l7: [1] },
  { option: 'dhcp-dump-dir', label: 'DHCP', plugin: 'DHCP', l7: [18, 103] },
];

export type DumpFormat = 't' | 'j';

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** YYYY/MM/DD[/HH/MM] of an epoch second, UTC. */
function datePath(sec: number, depth: 3 | 5): string {
  const d = new Date(sec * 1000);
  const parts = [String(d.getUTCFullYear()), pad2(d.getUTCMonth() + 1), pad2(d.getUTCDate())];
  if (depth === 5) parts.push(pad2(d.getUTCHours()), pad2(d.getUTCMinutes()));
  return parts.join('/');
}

function escapeValue(s: string, sep: string): string {
  let out = '';
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === sep) out += '\\' + sep;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else out += ch;
  }
  return out;
}

/** A column's value as JSON and dumps show it (epoch seconds for times, "" / 0 when absent). */
export function displayValue(e: ElementDef, f: FlowRecord): string | number {
  let v: unknown = f[e.name];
  if (v === undefined) {
    v = e.get(f, false, false);
    if (e.type === 'dateTimeSeconds' && typeof v === 'number') v = Math.floor(v / 1000);
  }
  if (v === undefined || v === null) return isStringType(e.type) || e.type.endsWith('Address') ? '' : 0;
  if (typeof v === 'number' || typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** One output file written as .temp and renamed when closed; exposes back-pressure. */
class DumpFile {
  readonly stream: fs.WriteStream;
  lines = 0;
  failed: Error | null = null;

  constructor(readonly finalPath: string) {
    fs.mkdirSync(path.dirname(finalPath), { recursive: true });
    const fd = fs.openSync(finalPath + '.temp', 'w');
    this.stream = fs.createWriteStream(finalPath + '.temp', { fd, highWaterMark: STREAM_HIGH_WATER });
    this.stream.on('error', (e) => (this.failed = e));
  }

  write(text: string): boolean {
    if (this.failed) throw this.failed;
    return this.stream.write(text);
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        if (this.failed) return reject(this.failed);
        try {
          fs.renameSync(this.finalPath + '.temp', this.finalPath);
          resolve();
        } catch (e) {
          reject(e);
        }
      };
      // end()'s callback does not run when the stream failed; 'close' always comes (once).
      if (this.stream.closed) return done();
      this.stream.once('close', done);
      if (!this.stream.destroyed) this.stream.end();
    });
  }
}

/** Drop accounting shared by both dump writers. */
class DumpErrors {
  dropped = 0;
  errors = 0;
  lastError = '';
  constructor(private readonly warn?: (line: string) => void) {}

  note(e: unknown, what: string): void {
    this.errors++;
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    // Warn on a change of error, not on every file: a dead directory must not flood stderr.
    if (code !== this.lastError) this.warn?.(`${what}: ${code}; flows are dropped (counted) until it can be written again`);
    this.lastError = code;
  }
}

/** Opens a dump file, or notes why it could not be. */
function tryOpen(finalPath: string, errs: DumpErrors, what: string): DumpFile | null {
  try {
    return new DumpFile(finalPath);
  } catch (e) {
    errs.note(e, what);
    return null;
  }
}

/** Closes (and renames into place) a dump file; its lines count as dropped if that fails. */
async function closeCounted(f: DumpFile, errs: DumpErrors, what: string): Promise<boolean> {
  try {
    await f.close();
    return true;
  } catch (e) {
    errs.dropped += f.lines;
    errs.note(e, what);
    return false;
  }
}

/** A name in dir that no earlier file of this run (or an earlier run) has: base, base_1, ... */
function freshName(dir: string, base: string, ext: string): string {
  let p = path.join(dir, base + ext);
  for (let i = 1; fs.existsSync(p) || fs.existsSync(p + '.temp'); i++) p = path.join(dir, `${base}_${i}${ext}`);
  return p;
}

function drained(stream: fs.WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = (): void => {
      stream.off('error', bad);
      resolve();
    };
    const bad = (e: Error): void => {
      stream.off('drain', ok);
      reject(e);
    };
    stream.once('drain', ok);
    stream.once('error', bad);
  });
}

export interface FlowDumpOptions {
  dir: string;
  periodSec: number;
  format: DumpFormat;
  nested: boolean;
  columns: ElementDef[];
  separator: string;
  liveClock: boolean;
  /** Where a write failure is reported (once per distinct error). */
  warn?: (line: string) => void;
}

/** The dump columns for a template: plus the other IP family's addresses when it names only one. */
export function dumpColumns(template: ElementDef[]): ElementDef[] {
  const names = new Set(template.map((e) => e.name));
  const out = [...template];
  const pairs: Array<[string, string]> = [['IPV4_SRC_ADDR', 'IPV6_SRC_ADDR'], ['IPV4_DST_ADDR', 'IPV6_DST_ADDR']];
  for (const [v4, v6] of pairs) {
    if (names.has(v4) && !names.has(v6)) out.splice(out.indexOf(template.find((e) => e.name === v4) as ElementDef) + 1, 0, elementByName(v6) as ElementDef);
    else if (names.has(v6) && !names.has(v4)) out.splice(out.indexOf(template.find((e) => e.name === v6) as ElementDef) + 1, 0, elementByName(v4) as ElementDef);
  }
  return out;
}

/** -P: flows to time-cut text or JSON files. */
export class FlowDumpWriter {
  readonly name: string;
  written = 0;
  files = 0;
  readonly errs: DumpErrors;
  private file: DumpFile | null = null;
  private period = -1;
  private clockMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private rotating: Promise<void> = Promise.resolve();

  constructor(private readonly opts: FlowDumpOptions) {
    this.name = `dump:${opts.dir}`;
    this.errs = new DumpErrors(opts.warn && ((l) => opts.warn?.(`${this.name}: ${l}`)));
    fs.mkdirSync(opts.dir, { recursive: true });
    fs.accessSync(opts.dir, fs.constants.W_OK);
    if (opts.liveClock) {
      // Live: close a period on time even when no flow comes.
      this.timer = setInterval(() => {
        const p = Math.floor(Date.now() / 1000 / this.opts.periodSec);
        if (this.file && p !== this.period) this.rotating = this.rotating.then(() => this.closeFile());
      }, 1000);
      this.timer.unref();
    }
  }

  private header(): string {
    return this.opts.columns.map((e) => e.name).join(this.opts.separator) + '\n';
  }

  private line(f: FlowRecord): string {
    const cols = this.opts.columns;
    if (this.opts.format === 'j') {
      const o: Record<string, string | number> = {};
      for (const e of cols) o[e.name] = displayValue(e, f);
      return JSON.stringify(o) + '\n';
    }
    const sep = this.opts.separator;
    let s = '';
    for (let i = 0; i < cols.length; i++) {
      const v = displayValue(cols[i], f);
      s += (i ? sep : '') + (typeof v === 'string' ? escapeValue(v, sep) : String(v));
    }
    return s + '\n';
  }

  get dropped(): number {
    return this.errs.dropped;
  }

  /** Bytes handed to the file stream and not yet written. */
  get backlogBytes(): number {
    return this.file ? this.file.stream.writableLength : 0;
  }

  // Never rejects: a file that cannot be put in place is counted (its lines dropped).
  private async closeFile(): Promise<void> {
    const f = this.file;
    this.file = null;
    if (f && !(await closeCounted(f, this.errs, 'closing a dump file'))) this.written -= f.lines;
  }

  private openFile(period: number): boolean {
    const start = period * this.opts.periodSec;
    const dir = this.opts.nested ? path.join(this.opts.dir, datePath(start, 5)) : this.opts.dir;
    this.period = period;
    let name: string;
    try {
      name = freshName(dir, String(start), this.opts.format === 'j' ? '.json' : '.flows');
    } catch (e) {
      this.errs.note(e, 'opening a dump file');
      return false;
    }
    this.file = tryOpen(name, this.errs, 'opening a dump file');
    if (!this.file) return false;
    this.files++;
    if (this.opts.format === 't') this.file.write(this.header());
    return true;
  }

  async write(flows: FlowRecord[]): Promise<void> {
    if (flows.length === 0) return;
    await this.rotating;
    if (this.file?.failed) await this.closeFile();
    const live = this.opts.liveClock;
    const liveNow = Date.now();
    let text = '';
    // One attempt to open per period and batch: a dead directory costs one syscall per batch.
    let failedPeriod = -1;
    for (const f of flows) {
      // File mode: the clock advances flow by flow (latest end seen), so one batch can span
      // periods and the files do not depend on how flows were batched.
      const end = f.FLOW_END_MICROSECONDS / 1000;
      if (end > this.clockMs) this.clockMs = end;
      const period = Math.floor((live ? liveNow : this.clockMs) / 1000 / this.opts.periodSec);
      if (!this.file || period !== this.period) {
        if (this.file) {
          this.writeText(text);
          text = '';
          await this.closeFile();
        }
        if (period === failedPeriod || !this.openFile(period)) {
          failedPeriod = period;
          this.errs.dropped++;
          continue;
        }
      }
      text += this.line(f);
      (this.file as DumpFile).lines++;
      this.written++;
    }
    const file = this.file;
    if (file && !this.writeText(text)) await drained(file.stream).catch(() => undefined);
  }

  // A stream that failed keeps its lines (they are dropped when it is closed).
  private writeText(text: string): boolean {
    const file = this.file as DumpFile;
    try {
      return file.write(text);
    } catch {
      return true;
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.rotating;
    await this.closeFile();
  }

  get errors(): number {
    return this.errs.errors;
  }
}

export interface ProtocolDumpOptions {
  label: string;
  dir: string;
  l7: number[];
  fields: ElementDef[];
  format: DumpFormat;
  nested: boolean;
  warn?: (line: string) => void;
}

/** --<proto>-dump-dir: one protocol's flows, nProbe plugin-log style. */
export class ProtocolDumpWriter {
  readonly name: string;
  written = 0;
  files = 0;
  readonly errs: DumpErrors;
  private file: DumpFile | null = null;
  private day = '';
  private readonly l7: Set<number>;

  constructor(private readonly opts: ProtocolDumpOptions) {
    this.name = `${opts.label.toLowerCase()}-dump:${opts.dir}`;
    this.errs = new DumpErrors(opts.warn && ((l) => opts.warn?.(`${this.name}: ${l}`)));
    this.l7 = new Set(opts.l7);
    fs.mkdirSync(opts.dir, { recursive: true });
    fs.accessSync(opts.dir, fs.constants.W_OK);
  }

  static forProtocol(label: string, dir: string, format: DumpFormat, nested: boolean, warn?: (line: string) => void): ProtocolDumpWriter {
    const spec = PROTOCOL_DUMPS.find((p) => p.label === label);
    const plugin = PLUGINS.find((p) => p.name.toUpperCase() === (spec?.plugin ?? label));
    const fields = (plugin?.fields ?? []).map((fd) => elementByName(fd.name)).filter((e): e is ElementDef => !!e);
    return new ProtocolDumpWriter({ label, dir, l7: plugin?.l7 ?? spec?.l7 ?? [], fields, format, nested, warn });
  }

  get dropped(): number {
    return this.errs.dropped;
  }

  get backlogBytes(): number {
    return this.file ? this.file.stream.writableLength : 0;
  }

  private async closeFile(): Promise<void> {
    const f = this.file;
    this.file = null;
    if (f && !(await closeCounted(f, this.errs, 'closing a log file'))) this.written -= f.lines;
  }

  private header(): string {
    const core = ['FIRST_SWITCHED', 'LAST_SWITCHED', 'FLOW_ID', 'SRC_ADDR', 'L4_SRC_PORT', 'DST_ADDR', 'L4_DST_PORT', 'PROTOCOL'];
    return '# ' + [...core, ...this.opts.fields.map((e) => e.name)].join('\t') + '\n';
  }

  private line(f: FlowRecord): string {
    if (this.opts.format === 'j') return flowToJson(f) + '\n';
    const vals: Array<string | number> = [
      f.FIRST_SWITCHED, f.LAST_SWITCHED, f.FLOW_ID, f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR ?? '', f.L4_SRC_PORT,
      f.IPV4_DST_ADDR ?? f.IPV6_DST_ADDR ?? '', f.L4_DST_PORT, f.PROTOCOL,
    ];
    for (const e of this.opts.fields) vals.push(displayValue(e, f));
    return vals.map((v) => (typeof v === 'string' ? escapeValue(v, '\t') : String(v))).join('\t') + '\n';
  }

  async write(flows: FlowRecord[]): Promise<void> {
    let waitFor: fs.WriteStream | null = null;
    if (this.file?.failed) await this.closeFile();
    let openFailed = false; // one attempt per batch: a dead directory costs one syscall per batch
    for (const f of flows) {
      if (!this.l7.has(f.L7_PROTO)) continue;
      const day = datePath(f.FIRST_SWITCHED, 3);
      if (this.file && (this.file.lines >= MAX_LINES_PER_PROTOCOL_FILE || (this.opts.nested && day !== this.day))) await this.closeFile();
      if (!this.file && !openFailed) {
        const dir = this.opts.nested ? path.join(this.opts.dir, day) : this.opts.dir;
        try {
          this.file = tryOpen(freshName(dir, String(f.FIRST_SWITCHED), this.opts.format === 'j' ? '.json' : '.log'), this.errs, 'opening a log file');
        } catch (e) {
          this.errs.note(e, 'opening a log file');
        }
        if (this.file) {
          this.files++;
          this.day = day;
          if (this.opts.format === 't') this.file.write(this.header());
        } else openFailed = true;
      }
      if (!this.file) {
        this.errs.dropped++;
        continue;
      }
      this.file.lines++;
      this.written++;
      try {
        if (!this.file.write(this.line(f))) waitFor = this.file.stream;
      } catch {
        /* the stream failed: its lines are dropped when it is closed */
      }
    }
    if (waitFor && waitFor.writableNeedDrain) await drained(waitFor).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.closeFile();
  }
}
