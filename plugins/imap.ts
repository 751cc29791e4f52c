// SKELETON (to be replaced by the IMAP plugin): name, ids and hook only.
import { Plugin } from './types';

export const plugin: Plugin = {
  name: 'IMAP',
  dissector: 'IMAP',
  l7: [4],
  luaHook: 'checkIMAPFlow',
  luaTable: 'imap',
  fields: [],
};
