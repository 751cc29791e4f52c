// SKELETON (to be replaced by the SMTP plugin): name, ids and hook only.
import { Plugin } from './types';

export const plugin: Plugin = {
  name: 'SMTP',
  dissector: 'SMTP',
  l7: [3],
  luaHook: 'checkSMTPFlow',
  luaTable: 'smtp',
  fields: [],
};
