// SKELETON (to be replaced by the FTP plugin): name, ids and hook only.
import { Plugin } from './types';

export const plugin: Plugin = {
  name: 'FTP',
  dissector: 'FTP',
  l7: [1,175],
  luaHook: 'checkFTPFlow',
  luaTable: 'ftp',
  fields: [],
};
