// The one list of protocol plugins (DESIGN.md §3): field tables, Lua hooks, nDPI ids.
import { plugin as dhcp } from './dhcp';
import { plugin as dns } from './dns';
import { plugin as gtpv1 } from './gtpv1';
import { plugin as radius } from './radius';
import { plugin as sip } from './sip';
import { Plugin } from './types';

export const PLUGINS: readonly Plugin[] = [dhcp, dns, gtpv1, radius, sip];

/** The plugin whose flows carry this nDPI id, if any. */
export function pluginForL7(id: number): Plugin | undefined {
  return PLUGINS.find((p) => p.l7.includes(id));
}

export { L7_NAMES, l7Name } from './l7';
export type { FieldDef, FieldType, Plugin } from './types';
