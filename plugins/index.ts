// The one list of protocol plugins (DESIGN.md §3): field tables, Lua hooks, nDPI ids.
import { plugin as dhcp } from './dhcp';
import { plugin as dns } from './dns';
import { plugin as ftp } from './ftp';
import { plugin as gtpv1 } from './gtpv1';
import { plugin as http } from './http';
import { plugin as imap } from './imap';
import { plugin as pop } from './pop';
import { plugin as radius } from './radius';
import { plugin as sip } from './sip';
import { plugin as smtp } from './smtp';
import { Plugin } from './types';

export const PLUGINS: readonly Plugin[] = [dhcp, dns, ftp, gtpv1, http, imap, pop, radius, sip, smtp];

/** The plugin whose flows carry this nDPI id, if any. */
export function pluginForL7(id: number): Plugin | undefined {
  return PLUGINS.find((p) => p.l7.includes(id));
}

export { L7_NAMES, l7Name } from './l7';
export type { FieldDef, FieldType, Plugin } from './types';
