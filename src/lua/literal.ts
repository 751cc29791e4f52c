// Values as Lua source literals (Lua 5.4 manual §3.1): the batch crosses into Lua as source.

/** A number or string as a Lua literal that reads back as the same value. */
export function luaLiteral(v: string | number): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return '0';
    return Number.isInteger(v) ? String(v) : v.toPrecision(17);
  }
  // Plain strings (addresses, names) need no escaping: keep the fast path cheap.
  if (!/["\\\x00-\x1f\x7f]/.test(v)) return `"${v}"`;
  // \ddd with three digits is never read as more digits than meant.
  return `"${v.replace(/["\\\x00-\x1f\x7f]/g, (c) => (c === '"' ? '\\"' : c === '\\' ? '\\\\' : `\\${String(c.charCodeAt(0)).padStart(3, '0')}`))}"`;
}
