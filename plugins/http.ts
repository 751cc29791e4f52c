// SKELETON (to be replaced by the HTTP plugin): name, ids and hook only.
import { Plugin } from './types';

export const plugin: Plugin = {
  name: 'HTTP',
  dissector: 'HTTP',
  l7: [7],
  luaHook: 'checkHTTPFlow',
  luaTable: 'http',
  fields: [],
};
