// SKELETON (to be replaced by the RADIUS plugin): name, ids and hook only.
import { Plugin } from './types';

export const plugin: Plugin = {
  name: 'RADIUS',
  dissector: 'RADIUS',
  l7: [146],
  luaHook: 'checkRADIUSFlow',
  luaTable: 'radius',
  fields: [],
};
