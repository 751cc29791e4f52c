// SKELETON (to be replaced by the GTPV1 plugin): name, ids and hook only.
import { Plugin } from './types';

export const plugin: Plugin = {
  name: 'GTPV1',
  dissector: 'GTPV1',
  l7: [272,152],
  luaHook: 'checkGTPV1Flow',
  luaTable: 'gtpv1',
  fields: [],
};
