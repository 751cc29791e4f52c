// What a protocol plugin declares: its nDPI ids, its Lua hook and table, and the fields it
// exports, each under nProbe's element name with its IPFIX identity (DESIGN.md §3).

/** IPFIX abstract data types the exporters know how to encode. */
export type FieldType = 'string' | 'unsigned8' | 'unsigned16' | 'unsigned32' | 'unsigned64' | 'ipv4Address' | 'ipv6Address' | 'dateTimeMilliseconds' | 'json';

export interface FieldDef {
  /** nProbe element name: the JSON key, the -T template name. */
  name: string;
  /** IPFIX information element id (ntop's private ids under PEN 35632 for nProbe fields). */
  id: number;
  /** Private enterprise number; 0 for IANA elements. */
  pen: number;
  type: FieldType;
  /** Key in the plugin's Lua table: prefix + lowercase name without the protocol prefix. */
  lua: string;
  description: string;
}

export interface Plugin {
  /** Protocol as nProbe names the plugin ("DNS", "GTPV1"). */
  name: string;
  /** Native dissector name (native/dissect list), the same as name unless noted. */
  dissector: string;
  /** nDPI ids whose flows belong to this plugin. */
  l7: number[];
  /** Lua hook and global table name (seed 002). */
  luaHook: string;
  luaTable: string;
  fields: FieldDef[];
}

/** nProbe's private enterprise number (ntop). */
export const NTOP_PEN = 35632;

/** Builds a FieldDef; the Lua key follows DESIGN.md §4 (prefix + lowercase, protocol prefix dropped). */
export function field(prefix: string, name: string, id: number, type: FieldType, description: string, pen = NTOP_PEN): FieldDef {
  const bare = name.startsWith(prefix.toUpperCase() + '_') ? name.slice(prefix.length + 1) : name;
  return { name, id, pen, type, lua: `${prefix}.${bare.toLowerCase()}`, description };
}
