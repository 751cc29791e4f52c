// $u $U $d $D substitution of lookup queries (seed 000, drweb.lookup: "$u, $U is replaced with
// user ... $d, $D with domain"). Here $u and $d are the lower-cased params.user/params.domain,
// $U and $D the values as given; $$ is a literal $. Each value goes through the escaping of the
// place it lands in (RFC 4515 for LDAP filters, RFC 4514 for DNs), so a user name cannot change
// the shape of a query.

export type Params = Record<string, string>;
export type Escape = (v: string) => string;

const MARKER = /\$([uUdD$])/g;

/** Throws when the template has a `$` not followed by u, U, d, D or $. */
export function checkTemplate(t: string): void {
  const bad = t.replace(MARKER, '').indexOf('$');
  if (bad >= 0) throw new Error(`unknown marker in "${t}" (only $u $U $d $D $$)`);
}

export function substitute(template: string, params: Params, escape: Escape = (v) => v): string {
  return template.replace(MARKER, (_, m: string) => {
    if (m === '$') return '$';
    const key = m.toLowerCase() === 'u' ? 'user' : 'domain';
    const v = params[key];
    if (v === undefined) throw new Error(`$${m} needs params.${key}`);
    return escape(m === 'u' || m === 'd' ? v.toLowerCase() : v);
  });
}

/** RFC 4515 §3: `*` `(` `)` `\` and NUL as \XX inside an assertion value. */
export function escapeFilterValue(v: string): string {
  return v.replace(/[*()\\\0]/g, (c) => '\\' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

/** RFC 4514 §2.4: an attribute value inside a DN. */
export function escapeDnValue(v: string): string {
  let s = v.replace(/[,+"\\<>;=\0]/g, (c) => (c === '\0' ? '\\00' : '\\' + c));
  if (/^[ #]/.test(s)) s = '\\' + s;
  if (s.endsWith(' ') && !s.endsWith('\\ ')) s = s.slice(0, -1) + '\\ ';
  return s;
}
