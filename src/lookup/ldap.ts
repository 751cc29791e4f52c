// ldap@TAG data sources of drweb.lookup (DESIGN.md §5, issue 6), through ldapts: a search with
// base, scope, filter and attributes from the config, $u $U $d $D substituted with RFC 4515
// escaping in the filter and RFC 4514 escaping in the base DN. Results are cached per query
// for `ttl` seconds (at most cache_size queries, least recently used dropped first); the same
// query in flight is asked once. One client per source, bound once per connection.
import { Client } from 'ldapts';
import type { LdapSourceConfig } from './config';
import { escapeDnValue, escapeFilterValue, Params, substitute } from './subst';

const MAX_VALUES = 10_000;

export class LdapSource {
  private client?: Client;
  private bound?: Promise<void>;
  private readonly cache = new Map<string, { until: number; values: string[] }>();
  private readonly inflight = new Map<string, Promise<string[]>>();
  /** Searches sent to the server (cache misses): for tests and stats. */
  searches = 0;

  constructor(readonly cfg: LdapSourceConfig) {}

  /** The cached answer, or a promise of it. Substitution errors throw at once. */
  lookup(params: Params): string[] | Promise<string[]> {
    const filter = substitute(this.cfg.filter, params, escapeFilterValue);
    const base = substitute(this.cfg.base, params, escapeDnValue);
    const key = `${base}\0${filter}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) {
      // Least recently used order: a hit moves to the end.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit.values;
    }
    if (hit) this.cache.delete(key);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.search(base, filter).then(
        (values) => {
          this.inflight.delete(key);
          if (this.cfg.ttl > 0) {
            while (this.cache.size >= this.cfg.cacheSize) this.cache.delete(this.cache.keys().next().value as string);
            this.cache.set(key, { until: Date.now() + this.cfg.ttl * 1000, values });
          }
          return values;
        },
        (e) => {
          this.inflight.delete(key);
          throw e;
        },
      );
      this.inflight.set(key, p);
    }
    return p;
  }

  private connect(): Promise<void> {
    if (this.client && this.bound && this.client.isConnected) return this.bound;
    const client = new Client({ url: this.cfg.url, timeout: this.cfg.timeoutMs, connectTimeout: this.cfg.timeoutMs });
    this.client = client;
    this.bound = this.cfg.bindDn !== undefined ? client.bind(this.cfg.bindDn, this.cfg.bindPassword ?? '') : Promise.resolve();
    // A failed bind is not kept: the next query tries again.
    this.bound.catch(() => {
      if (this.client === client) this.client = this.bound = undefined;
    });
    return this.bound;
  }

  private async search(base: string, filter: string): Promise<string[]> {
    this.searches++;
    try {
      await this.connect();
      const { searchEntries } = await this.client!.search(base, {
        scope: this.cfg.scope,
        filter,
        attributes: this.cfg.attributes.filter((a) => a.toLowerCase() !== 'dn'),
        sizeLimit: this.cfg.sizeLimit,
      });
      const out: string[] = [];
      for (const e of searchEntries) {
        for (const a of this.cfg.attributes) {
          // Attribute names come back in the server's spelling: match them case-insensitively.
          const k = a.toLowerCase() === 'dn' ? 'dn' : Object.keys(e).find((x) => x.toLowerCase() === a.toLowerCase());
          const v = k === undefined ? undefined : e[k];
          for (const x of v === undefined ? [] : Array.isArray(v) ? v : [v]) {
            if (out.length < MAX_VALUES) out.push(Buffer.isBuffer(x) ? x.toString('utf8') : String(x));
          }
        }
      }
      return out;
    } catch (e) {
      // noSuchObject (32): the base DN does not exist, e.g. base = uid=$u,... for an unknown
      // user. That is an empty answer, not a failure.
      if ((e as { code?: number }).code === 32) return [];
      // The connection may be half dead: start over next time.
      const c = this.client;
      this.client = this.bound = undefined;
      c?.unbind().catch(() => undefined);
      const code = (e as { code?: unknown }).code;
      const text = ((e as Error).message || String(e)).trim();
      // ldapts' result errors carry little text ("Code: 0x31"): name them.
      const msg = typeof code === 'number' ? `LDAP result ${code} (${(e as Error).name})${/^Code: 0x[0-9a-f]+$/i.test(text) ? '' : `: ${text}`}` : text;
      throw new Error(`${this.cfg.name}: ${this.cfg.url}: ${msg}`);
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = this.bound = undefined;
    if (c) await c.unbind().catch(() => undefined);
  }
}
