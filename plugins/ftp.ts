// FTP plugin (native/dissect/ftp.cc). nProbe's FTP plugin has four elements (its plugin
// documentation, `nprobe -H`): FTP_LOGIN NFv9 57828 = IPFIX 35632.356, FTP_PASSWORD 57829 =
// 35632.357, FTP_COMMAND 57830 = 35632.358, FTP_COMMAND_RET_CODE 57831 = 35632.359. The other
// fields are this probe's own (id 0): nProbe has no element for them.
//
// Control connections (L7_PROTO 1, FTP_CONTROL): the flat FTP_COMMAND / FTP_COMMAND_RET_CODE
// describe the session's first command and its final reply; FTP_TRANSACTIONS lists every command
// with its reply, at most 64 (more are counted as the anomaly ftp_transactions_cap).
// FTP_PASSWORD is exported only when the user asks for credentials (--ftp-credentials); by
// default the dissector does not even keep it, and PASS shows without its argument everywhere.
//
// Data connections (L7_PROTO 175, FTP_DATA) announced by PASV, EPSV, PORT or EPRT carry
// FTP_CONTROL_FLOW_ID, the FLOW_ID of their control connection; the command that used them is
// in that connection's FTP_TRANSACTIONS. Both kinds go through checkFTPFlow.
import { Plugin, field, FieldDef, FieldType } from './types';

const f = (name: string, id: number, type: FieldType, description: string): FieldDef => field('ftp', name, id, type, description);

export const plugin: Plugin = {
  name: 'FTP',
  dissector: 'FTP',
  l7: [1, 175],
  luaHook: 'checkFTPFlow',
  luaTable: 'ftp',
  fields: [
    f('FTP_LOGIN', 356, 'string', 'FTP client login: the argument of the first USER command'),
    f('FTP_PASSWORD', 357, 'string', 'FTP client password: the argument of the first PASS command; only with --ftp-credentials (never exported otherwise)'),
    f('FTP_COMMAND', 358, 'string', 'FTP client command: the first command of the session, verb and argument as sent ("USER anonymous"); PASS without its argument'),
    f('FTP_COMMAND_RET_CODE', 359, 'unsigned16', 'FTP client command return code: the final reply code (2xx-5xx) to FTP_COMMAND'),
    f('FTP_SERVER_BANNER', 0, 'string', 'Text of the server greeting (220), first line (this probe\'s own element)'),
    f('FTP_AUTH_TLS', 0, 'unsigned8', '1 when the session switched to TLS with AUTH TLS/SSL (234; the rest of the flow is not read), else 0 (this probe\'s own element)'),
    f('FTP_CONTROL_FLOW_ID', 0, 'unsigned64', 'On an FTP data connection (L7_PROTO 175): FLOW_ID of the control connection that announced it by PASV, EPSV, PORT or EPRT (this probe\'s own element)'),
    // This probe's own element (no nProbe id): every command of the session, capped at 64.
    f('FTP_TRANSACTIONS', 0, 'json', 'All commands of the session (at most 64), each an object with FTP_COMMAND, FTP_COMMAND_RET_CODE, FTP_COMMAND_RET_MSG (final reply, first line), FTP_PRELIM_RET_CODE / FTP_PRELIM_RET_MSG (1xx reply, first line), FTP_DATA_ADDR / FTP_DATA_PORT (data endpoint of PASV, EPSV, PORT, EPRT), FTP_CWD (working directory of a transfer command)'),
  ],
};
