// SKELETON (to be replaced by the POP plugin): name, ids and hook only.
import { Plugin } from './types';

export const plugin: Plugin = {
  name: 'POP',
  dissector: 'POP',
  l7: [2],
  luaHook: 'checkPOPFlow',
  luaTable: 'pop',
  fields: [],
};
