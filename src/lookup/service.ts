// The lookup service behind drweb.lookup (seed 000; DESIGN.md §5): the data sources of the
// --lookup-config file by name (type@tag). Answers come back at once when they can (files,
// cached LDAP results) and as a promise otherwise, so a script pays a coroutine yield only for
// a real network round trip.
import { loadLookupConfig, SourceConfig } from './config';
import { FileSource } from './file';
import { LdapSource } from './ldap';
import type { Params } from './subst';

export type { Params } from './subst';

export class LookupService {
  readonly sources = new Map<string, FileSource | LdapSource>();

  constructor(configs: Map<string, SourceConfig>, private readonly configFile?: string) {
    for (const [name, c] of configs) this.sources.set(name, c.type === 'file' ? new FileSource(c) : new LdapSource(c));
  }

  static fromFile(file: string): LookupService {
    return new LookupService(loadLookupConfig(file), file);
  }

  private source(request: string): FileSource | LdapSource {
    const s = this.sources.get(request);
    if (s) return s;
    if (!this.configFile) throw new Error(`unknown data source "${request}": no --lookup-config file given`);
    throw new Error(`unknown data source "${request}" (${this.configFile} defines: ${[...this.sources.keys()].join(', ') || 'none'})`);
  }

  lookup(request: string, params: Params): string[] | Promise<string[]> {
    return this.source(request).lookup(params);
  }

  /** File sources test value by their mode; LDAP sources whether it is among the results. */
  check(value: string, request: string, params: Params): boolean | Promise<boolean> {
    const s = this.source(request);
    if (s instanceof FileSource) return s.check(value);
    const has = (vals: string[]): boolean =>
      s.cfg.ignoreCase ? vals.some((v) => v.toLowerCase() === value.toLowerCase()) : vals.includes(value);
    const r = s.lookup(params);
    return r instanceof Promise ? r.then(has) : has(r);
  }

  async close(): Promise<void> {
    for (const s of this.sources.values()) if (s instanceof LdapSource) await s.close();
  }
}
