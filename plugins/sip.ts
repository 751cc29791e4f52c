// SKELETON (to be replaced by the SIP plugin): name, ids and hook only.
import { Plugin } from './types';

export const plugin: Plugin = {
  name: 'SIP',
  dissector: 'SIP',
  l7: [100],
  luaHook: 'checkSIPFlow',
  luaTable: 'sip',
  fields: [],
};
