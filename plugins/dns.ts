// DNS plugin (native/dissect/dns.cc, client enrichment in src/geo.ts). Field ids are nProbe's
// (its DNS plugin documentation, `nprobe -H`: NFv9 57677-57681, 57824, 57870 = IPFIX
// 35632.205-209, .352, .398). The flat fields describe the flow's first transaction (a query
// and its response, matched by id and question); DNS_TRANSACTIONS lists all of them, at most
// 64 (more are counted as the anomaly dns_transactions_cap).
//
// The client fields come from the seed's Lua table (dns.dns_client, dns.as, dns.clientcountry,
// dns.clientcity; nProbe writes them in its --dns-dump-dir files) and have no nProbe element,
// so their names here are this probe's own and their id is 0. AS, country and city are looked
// up at export in the databases given with --as-list / --city-list; without them they are 0 / "".
import { Plugin, field, FieldDef, FieldType, NTOP_PEN } from './types';

const f = (name: string, id: number, type: FieldType, description: string): FieldDef => field('dns', name, id, type, description);
// A field whose Lua key is fixed by the seed rather than derived from the element name.
const seed = (name: string, lua: string, type: FieldType, description: string): FieldDef => ({ name, id: 0, pen: NTOP_PEN, type, lua, description });

export const plugin: Plugin = {
  name: 'DNS',
  dissector: 'DNS',
  l7: [5],
  luaHook: 'checkDNSFlow',
  luaTable: 'dns',
  fields: [
    f('DNS_QUERY', 205, 'string', 'Query name of the first question (presentation form: no trailing dot, "\\." and \\DDD escapes)'),
    f('DNS_QUERY_ID', 206, 'unsigned16', 'Transaction id'),
    // nProbe declares 1 octet; types above 255 exist (CAA 257, TA 32768), so 2 here.
    f('DNS_QUERY_TYPE', 207, 'unsigned16', 'Query type of the first question (1 A, 2 NS, 5 CNAME, 12 PTR, 15 MX, 16 TXT, 28 AAAA, 33 SRV, ...)'),
    f('DNS_RET_CODE', 208, 'unsigned8', 'Response code, the header\'s 4 bits (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED); absent without a response'),
    // nProbe declares 1 octet; ANCOUNT is 16 bits.
    f('DNS_NUM_ANSWERS', 209, 'unsigned16', 'Answer records in the response (the header\'s ANCOUNT); absent without a response'),
    f('DNS_TTL_ANSWER', 352, 'unsigned32', 'TTL of the first A/AAAA answer, else of the first answer; 0 without answers'),
    // Seed 002 names this Lua key dns.answers.
    { ...f('DNS_RESPONSE', 398, 'string', 'Answer section as text, comma separated: "A 1.2.3.4,CNAME x.example,MX 10 mx.example,TXT \\"v=spf1\\"" (cut at 1 KiB)'), lua: 'dns.answers' },
    seed('DNS_CLIENT', 'dns.dns_client', 'string', 'Address of the client that sent the queries (this probe\'s own element: nProbe has none)'),
    seed('DNS_CLIENT_AS', 'dns.as', 'unsigned32', 'Autonomous system number of DNS_CLIENT (--as-list database); 0 when unknown'),
    seed('DNS_CLIENT_COUNTRY', 'dns.clientcountry', 'string', 'ISO 3166 country code of DNS_CLIENT (--city-list database); "" when unknown'),
    seed('DNS_CLIENT_CITY', 'dns.clientcity', 'string', 'City name (English) of DNS_CLIENT (--city-list database); "" when unknown'),
    // This probe's own element (no nProbe id): every transaction of the flow, capped at 64.
    f('DNS_TRANSACTIONS', 0, 'json', 'All transactions of the flow (at most 64), each an object with DNS_QUERY ... DNS_RESPONSE'),
  ],
};
