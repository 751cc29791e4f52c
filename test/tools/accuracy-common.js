// Shared by the per-protocol accuracy checks in test/accuracy/ (run by test/tools/accuracy.js): tshark's
// timestamps in microseconds, a record's addresses as tshark writes them, and the per-field
// tally (expected / found / wrong, misses, explained differences).
'use strict';

/** tshark's "seconds.fraction" time as integer microseconds (no float rounding). */
const usOf = (ts) => {
  const [s, f = ''] = String(ts).split('.');
  return Number(s) * 1e6 + Number((f + '000000').slice(0, 6));
};

/** A record's [source, destination] address, lower case as tshark writes IPv6. */
const addrs = (f) => [String(f.IPV4_SRC_ADDR ?? f.IPV6_SRC_ADDR).toLowerCase(), String(f.IPV4_DST_ADDR ?? f.IPV6_DST_ADDR).toLowerCase()];

/**
 * The field tally of one capture. compare() counts a value tshark (or a peer) has and checks the
 * record's; explain() files a known, documented difference; result() is what check() returns.
 */
function tally() {
  const fields = {};
  const F = (n) => (fields[n] ??= { expected: 0, found: 0, wrong: 0, misses: [] });
  const explainCounts = new Map();
  const explain = (field, what, why) => {
    const k = `${field}\u0000${why}`;
    const e = explainCounts.get(k) ?? { field, what: [], why };
    e.what.push(what);
    explainCounts.set(k, e);
  };
  const compare = (name, where, want, got, ok = got === want) => {
    F(name).expected++;
    if (ok) F(name).found++;
    else if (got === undefined) F(name).misses.push(`${where}: ${JSON.stringify(want)} missing`);
    else {
      F(name).wrong++;
      F(name).misses.push(`${where}: expected ${JSON.stringify(want)}, record ${JSON.stringify(got)}`);
    }
  };
  const result = () => {
    const explained = [];
    for (const e of explainCounts.values()) {
      const shown = e.what.slice(0, 3).join('; ') + (e.what.length > 3 ? `; ... (${e.what.length} in all)` : '');
      explained.push({ field: e.field, what: shown, why: e.why });
    }
    return { fields, explained };
  };
  return { fields, F, explain, compare, result };
}

module.exports = { usOf, addrs, tally };
