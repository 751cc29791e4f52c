// DNS client enrichment (seed 002: dns.as, dns.clientcountry, dns.clientcity): the AS number,
// country and city of DNS_CLIENT, from MaxMind DB files given with nProbe's --as-list
// (GeoLite2-ASN layout: autonomous_system_number) and --city-list (GeoLite2-City layout:
// country.iso_code, city.names.en). Read with mmdb-lib (the `maxmind` package). The native
// dissector already writes DNS_CLIENT_AS 0 / DNS_CLIENT_COUNTRY "" / DNS_CLIENT_CITY "" after
// DNS_CLIENT; this only fills them in, so without databases nothing runs here at all.
import * as fs from 'fs';
import type { AsnResponse, CityResponse, Reader } from 'maxmind';
import { plugin as dnsPlugin } from '../plugins/dns';

export interface GeoOptions {
  /** MaxMind ASN database (nProbe --as-list). */
  asList?: string;
  /** MaxMind City (or Country) database (nProbe --city-list). */
  cityList?: string;
}

export interface GeoInfo {
  as: number;
  country: string;
  city: string;
}

const UNKNOWN: GeoInfo = Object.freeze({ as: 0, country: '', city: '' });
// Addresses remembered between lookups; the whole cache is dropped when full (DNS clients are
// few and repeat, so this rarely happens, and memory stays bounded).
const CACHE_MAX = 8192;
const DNS_L7 = new Set(dnsPlugin.l7);

function openDb<T extends AsnResponse | CityResponse>(option: string, file: string): Reader<T> {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${option} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try {
    // Loaded here, with a database to read: the package adds ~9 ms to every start otherwise.
    const { Reader: DbReader } = require('maxmind') as typeof import('maxmind');
    return new DbReader<T>(buf);
  } catch (e) {
    throw new Error(`${option} ${file}: not a MaxMind DB file (${(e as Error).message})`);
  }
}

export class GeoDb {
  private readonly cache = new Map<string, GeoInfo>();

  private constructor(
    private readonly asn: Reader<AsnResponse> | null,
    private readonly city: Reader<CityResponse> | null,
  ) {}

  /** Opens the databases named in opts; null when none is given. Throws a one-line Error. */
  static open(opts: GeoOptions): GeoDb | null {
    if (!opts.asList && !opts.cityList) return null;
    const asn = opts.asList ? openDb<AsnResponse>('--as-list', opts.asList) : null;
    const city = opts.cityList ? openDb<CityResponse>('--city-list', opts.cityList) : null;
    return new GeoDb(asn, city);
  }

  /** AS number, ISO country code and English city name of an address; 0 / "" when unknown. */
  lookup(ip: string): GeoInfo {
    const hit = this.cache.get(ip);
    if (hit) return hit;
    const info: GeoInfo = { as: 0, country: '', city: '' };
    try {
      const a = this.asn?.get(ip);
      if (a && typeof a.autonomous_system_number === 'number') info.as = a.autonomous_system_number;
      const c = this.city?.get(ip);
      if (c) {
        info.country = c.country?.iso_code ?? c.registered_country?.iso_code ?? '';
        info.city = ('city' in c && c.city?.names?.en) || '';
      }
    } catch {
      // mmdb-lib throws for an address the database cannot hold (IPv6 in an IPv4-only file).
      return UNKNOWN;
    }
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(ip, info);
    return info;
  }

  /** Fills the client fields of DNS flows in place (other flows are left alone). */
  /** True for the flows enrich() fills in (DNS). */
  wants(l7: number): boolean {
    return DNS_L7.has(l7);
  }

  enrich(flow: Record<string, unknown>): void {
    if (!DNS_L7.has(flow.L7_PROTO as number)) return;
    const ip = flow.DNS_CLIENT;
    if (typeof ip !== 'string' || ip === '') return;
    const g = this.lookup(ip);
    flow.DNS_CLIENT_AS = g.as;
    flow.DNS_CLIENT_COUNTRY = g.country;
    flow.DNS_CLIENT_CITY = g.city;
  }
}
