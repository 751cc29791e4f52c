// SKELETON (to be replaced by the DNS plugin): name, ids and hook only.
import { Plugin } from './types';

export const plugin: Plugin = {
  name: 'DNS',
  dissector: 'DNS',
  l7: [5],
  luaHook: 'checkDNSFlow',
  luaTable: 'dns',
  fields: [],
};
