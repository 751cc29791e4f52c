// The --lookup-config file of drweb.lookup (seed 000 "drweb.lookup"; DESIGN.md §5): data sources
// named type@tag, one INI-like section each. Format (README "Connection hook"):
//   # or ; starts a comment line
//   [file@blocked]            type file: a text file, one entry per line
//   path = blocked.txt        relative to the config file's directory
//   mode = all-match          all-match | mask | regex | cidr
//   [ldap@users]              type ldap
//   url = ldap://127.0.0.1:389
//   base = ou=people,dc=example,dc=org   filter = (uid=$u)   attributes = mail, cn
// Unknown keys and sections are errors (a typo should not silently change a rule).
import * as fs from 'fs';
import * as path from 'path';
import { checkTemplate } from './subst';

export type FileMode = 'all-match' | 'mask' | 'regex' | 'cidr';

export interface FileSourceConfig {
  type: 'file';
  name: string;
  path: string;
  mode: FileMode;
  ignoreCase: boolean;
  /** Optional template: lookup() returns the entries matching it (all entries without it). */
  query?: string;
  /** Seconds between checks of the file for changes. */
  ttl: number;
}

export interface LdapSourceConfig {
  type: 'ldap';
  name: string;
  url: string;
  bindDn?: string;
  bindPassword?: string;
  base: string;
  scope: 'base' | 'one' | 'sub';
  filter: string;
  attributes: string[];
  ignoreCase: boolean;
  ttl: number;
  cacheSize: number;
  timeoutMs: number;
  sizeLimit: number;
}

export type SourceConfig = FileSourceConfig | LdapSourceConfig;

const MAX_SOURCES = 1000;

const FILE_KEYS = new Set(['path', 'mode', 'ignore_case', 'query', 'ttl']);
const LDAP_KEYS = new Set(['url', 'bind_dn', 'bind_password', 'base', 'scope', 'filter', 'attributes', 'ignore_case', 'ttl', 'cache_size', 'timeout_ms', 'size_limit']);

export class LookupConfigError extends Error {}

function bool(v: string, where: string): boolean {
  if (/^(yes|true|on|1)$/i.test(v)) return true;
  if (/^(no|false|off|0)$/i.test(v)) return false;
  throw new LookupConfigError(`${where}: yes or no expected, got "${v}"`);
}

function num(v: string, where: string, min: number): number {
  const n = Number(v);
  if (v === '' || !Number.isFinite(n) || n < min) throw new LookupConfigError(`${where}: a number >= ${min} expected, got "${v}"`);
  return n;
}

export function parseLookupConfig(text: string, file: string): Map<string, SourceConfig> {
  const dir = path.dirname(path.resolve(file));
  const sections: Array<{ name: string; line: number; kv: Map<string, [string, number]> }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    const where = `${file}:${i + 1}`;
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const sec = /^\[\s*([^\]\s]+)\s*\]$/.exec(line);
    if (sec) {
      if (sections.length >= MAX_SOURCES) throw new LookupConfigError(`${where}: more than ${MAX_SOURCES} sources`);
      if (sections.some((s) => s.name === sec[1])) throw new LookupConfigError(`${where}: [${sec[1]}] defined twice`);
      sections.push({ name: sec[1], line: i + 1, kv: new Map() });
      return;
    }
    const kv = /^([A-Za-z_]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) throw new LookupConfigError(`${where}: "key = value" or "[type@tag]" expected`);
    const cur = sections[sections.length - 1];
    if (!cur) throw new LookupConfigError(`${where}: "${kv[1]}" outside of a [type@tag] section`);
    cur.kv.set(kv[1].toLowerCase(), [kv[2].trim(), i + 1]);
  });
  const out = new Map<string, SourceConfig>();
  for (const s of sections) {
    const where = `${file}:${s.line}: [${s.name}]`;
    const m = /^(file|ldap)@([\w.-]+)$/.exec(s.name);
    if (!m) throw new LookupConfigError(`${where}: name must be file@TAG or ldap@TAG`);
    const keys = m[1] === 'file' ? FILE_KEYS : LDAP_KEYS;
    for (const [k, [, line]] of s.kv) if (!keys.has(k)) throw new LookupConfigError(`${file}:${line}: unknown key "${k}" in [${s.name}]`);
    const get = (k: string): string | undefined => s.kv.get(k)?.[0];
    const at = (k: string): string => `${file}:${s.kv.get(k)?.[1] ?? s.line}: ${k}`;
    const tpl = (k: string): string | undefined => {
      const v = get(k);
      if (v !== undefined) {
        try {
          checkTemplate(v);
        } catch (e) {
          throw new LookupConfigError(`${at(k)}: ${(e as Error).message}`);
        }
      }
      return v;
    };
    if (m[1] === 'file') {
      const p = get('path');
      if (!p) throw new LookupConfigError(`${where}: path is required`);
      const mode = (get('mode') ?? 'all-match') as FileMode;
      if (!['all-match', 'mask', 'regex', 'cidr'].includes(mode)) throw new LookupConfigError(`${at('mode')}: all-match, mask, regex or cidr expected, got "${mode}"`);
      out.set(s.name, {
        type: 'file',
        name: s.name,
        path: path.resolve(dir, p),
        mode,
        ignoreCase: bool(get('ignore_case') ?? 'no', at('ignore_case')),
        query: tpl('query'),
        ttl: num(get('ttl') ?? '60', at('ttl'), 0),
      });
    } else {
      const url = get('url');
      if (!url || !/^ldaps?:\/\//.test(url)) throw new LookupConfigError(`${where}: url = ldap://host[:port] (or ldaps://) is required`);
      const base = tpl('base');
      if (base === undefined) throw new LookupConfigError(`${where}: base is required`);
      const scope = (get('scope') ?? 'sub') as LdapSourceConfig['scope'];
      if (!['base', 'one', 'sub'].includes(scope)) throw new LookupConfigError(`${at('scope')}: base, one or sub expected, got "${scope}"`);
      const filter = tpl('filter') ?? '(objectClass=*)';
      if (!/^\(.*\)$/.test(filter)) throw new LookupConfigError(`${at('filter')}: an LDAP filter in parentheses expected`);
      if ((get('bind_dn') === undefined) !== (get('bind_password') === undefined)) throw new LookupConfigError(`${where}: bind_dn and bind_password go together`);
      out.set(s.name, {
        type: 'ldap',
        name: s.name,
        url,
        bindDn: get('bind_dn'),
        bindPassword: get('bind_password'),
        base,
        scope,
        filter,
        attributes: (get('attributes') ?? 'dn').split(',').map((a) => a.trim()).filter(Boolean),
        ignoreCase: bool(get('ignore_case') ?? 'yes', at('ignore_case')),
        ttl: num(get('ttl') ?? '60', at('ttl'), 0),
        cacheSize: num(get('cache_size') ?? '10000', at('cache_size'), 1),
        timeoutMs: num(get('timeout_ms') ?? '2000', at('timeout_ms'), 1),
        sizeLimit: num(get('size_limit') ?? '1000', at('size_limit'), 1),
      });
    }
  }
  return out;
}

export function loadLookupConfig(file: string): Map<string, SourceConfig> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new LookupConfigError(`--lookup-config ${file}: ${(e as Error).message}`);
  }
  return parseLookupConfig(text, file);
}
