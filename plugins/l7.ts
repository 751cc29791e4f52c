// nDPI protocol ids and names (ndpi_protocol_ids.h / ndpi_main.c) for the protocols this
// probe can label. L7_PROTO carries the id, L7_PROTO_NAME the name.
export const L7_NAMES: Readonly<Record<number, string>> = {
  0: 'Unknown',
  1: 'FTP_CONTROL',
  2: 'POP3',
  3: 'SMTP',
  4: 'IMAP',
  5: 'DNS',
  7: 'HTTP',
  18: 'DHCP',
  100: 'SIP',
  103: 'DHCPV6',
  146: 'Radius',
  152: 'GTP',
  175: 'FTP_DATA',
  271: 'GTP_U',
  272: 'GTP_C',
  273: 'GTP_PRIME',
};

export function l7Name(id: number): string {
  return L7_NAMES[id] ?? 'Unknown';
}
