// file@TAG data sources of drweb.lookup (DESIGN.md §5, issue 6): a text file, one entry per line
// (trimmed; blank lines and lines starting with # ignored), matched by mode:
//   all-match  the value equals an entry          mask   an entry is a shell wildcard (* ?)
//   regex      an entry is a JavaScript regex     cidr   an entry is a network, the value an address
// The file is read on first use and read again when its size or mtime changed, checked at most
// every `ttl` seconds.
import * as fs from 'fs';
import type { FileSourceConfig } from './config';
import { contains, Network, parseAddress, parseNetwork } from './ip';
import { Params, substitute } from './subst';

const MAX_BYTES = 64 * 1024 * 1024;
const MAX_ENTRIES = 1_000_000;
/** Cap on what one lookup() returns. */
export const MAX_RESULTS = 10_000;

interface Loaded {
  entries: string[];
  set?: Set<string>;
  res?: RegExp[];
  nets?: Network[];
}

function maskToRegExp(mask: string, flags: string): RegExp {
  const body = mask.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : '\\' + c));
  return new RegExp(`^${body}$`, flags);
}

export class FileSource {
  private data?: Loaded;
  private checkedAt = 0;
  private stamp = '';

  constructor(readonly cfg: FileSourceConfig) {}

  private load(): Loaded {
    const now = Date.now();
    if (this.data && now - this.checkedAt < this.cfg.ttl * 1000) return this.data;
    this.checkedAt = now;
    let st: fs.Stats;
    try {
      st = fs.statSync(this.cfg.path);
    } catch (e) {
      throw new Error(`${this.cfg.name}: ${this.cfg.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const stamp = `${st.size}:${st.mtimeMs}`;
    if (this.data && stamp === this.stamp) return this.data;
    if (st.size > MAX_BYTES) throw new Error(`${this.cfg.name}: ${this.cfg.path} is larger than ${MAX_BYTES} bytes`);
    const lines = fs.readFileSync(this.cfg.path, 'utf8').split(/\r?\n/);
    const entries: string[] = [];
    for (const raw of lines) {
      const l = raw.trim();
      if (l === '' || l.startsWith('#')) continue;
      if (entries.length >= MAX_ENTRIES) throw new Error(`${this.cfg.name}: ${this.cfg.path} has more than ${MAX_ENTRIES} entries`);
      entries.push(l);
    }
    const flags = this.cfg.ignoreCase ? 'i' : '';
    const d: Loaded = { entries };
    switch (this.cfg.mode) {
      case 'all-match':
        d.set = new Set(this.cfg.ignoreCase ? entries.map((e) => e.toLowerCase()) : entries);
        break;
      case 'mask':
        d.res = entries.map((e) => maskToRegExp(e, flags));
        break;
      case 'regex':
        d.res = entries.map((e, i) => {
          try {
            return new RegExp(e, flags);
          } catch (err) {
            throw new Error(`${this.cfg.name}: ${this.cfg.path}: entry ${i + 1}: ${(err as Error).message}`);
          }
        });
        break;
      case 'cidr':
        d.nets = entries.map((e) => {
          const n = parseNetwork(e);
          if (!n) throw new Error(`${this.cfg.name}: ${this.cfg.path}: "${e}" is not a network`);
          return n;
        });
        break;
    }
    this.data = d;
    this.stamp = stamp;
    return d;
  }

  /** Index of the entries that match value. */
  private matching(d: Loaded, value: string, all: boolean): number[] {
    const out: number[] = [];
    switch (this.cfg.mode) {
      case 'all-match': {
        const v = this.cfg.ignoreCase ? value.toLowerCase() : value;
        if (!d.set!.has(v)) return out;
        if (!all) return [0];
        d.entries.forEach((e, i) => (this.cfg.ignoreCase ? e.toLowerCase() : e) === v && out.push(i));
        return out;
      }
      case 'mask':
      case 'regex':
        for (let i = 0; i < d.res!.length && out.length < MAX_RESULTS; i++) {
          if (d.res![i].test(value)) {
            out.push(i);
            if (!all) break;
          }
        }
        return out;
      case 'cidr': {
        const a = parseAddress(value);
        if (!a) return out;
        for (let i = 0; i < d.nets!.length && out.length < MAX_RESULTS; i++) {
          if (contains(d.nets![i], a)) {
            out.push(i);
            if (!all) break;
          }
        }
        return out;
      }
    }
  }

  lookup(params: Params): string[] {
    const d = this.load();
    if (this.cfg.query === undefined) return d.entries.slice(0, MAX_RESULTS);
    const q = substitute(this.cfg.query, params);
    return this.matching(d, q, true).map((i) => d.entries[i]);
  }

  check(value: string): boolean {
    return this.matching(this.load(), value, false).length > 0;
  }
}
