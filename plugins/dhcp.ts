// SKELETON (to be replaced by the DHCP plugin): name, ids and hook only.
import { Plugin } from './types';

export const plugin: Plugin = {
  name: 'DHCP',
  dissector: 'DHCP',
  l7: [18,103],
  luaHook: 'checkDHCPFlow',
  luaTable: 'dhcp',
  fields: [],
};
