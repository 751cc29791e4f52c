// Values as Lua source literals (Lua 5.4 manual §3.1): the batch crosses into Lua as source.

/** A number or string as a Lua literal that reads back as the same value. */
export function luaLiteral(v: string | number): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return '0';
    return Number.isInteger(v) ? String(v) : v.toPrecision(17);
  }
  // Plain strings (addresses, names) need no escaping: keep the fast path cheap.
  if (!/["\\\x00-\x1f\x7f]/.test(v)) return `"${v}"`;
  let out = '"';
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c < 0x20 || c === 0x7f) out += `\\${String(c).padStart(3, '0')}`; // \ddd: never read as more digits
    else out += v[i];
  }
  return out + '"';
}
