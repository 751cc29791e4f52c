// HTTP plugin (native/dissect/http.cc: HTTP/1.x over reassembled TCP, RFC 9112 framing,
// RFC 9110 semantics). Field ids are nProbe's HTTP plugin elements (ntop's nProbe
// documentation, "HTTP Plugin" / `nprobe -H`: IPFIX 35632.<id>, NetFlow v9 57472 + id, e.g.
// HTTP_URL = 35632.180 = NFv9 57652).
//
// A flow (keep-alive, pipelining) carries several request/response pairs; each request opens
// a transaction and responses close them in request order. The flat fields describe the flow's
// first transaction; HTTP_TRANSACTIONS holds all of them (at most 64, more counted as the
// anomaly http_transactions_cap), each an object with the same element names (keys of empty
// values left out). The native file's header comment gives the exact rule for each field.
import { Plugin, field, FieldDef, FieldType } from './types';

const f = (name: string, id: number, type: FieldType, description: string): FieldDef => field('http', name, id, type, description);

export const plugin: Plugin = {
  name: 'HTTP',
  dissector: 'HTTP',
  l7: [7],
  luaHook: 'checkHTTPFlow',
  luaTable: 'http',
  fields: [
    f('HTTP_URL', 180, 'string', 'Request-target of the first request as sent ("/path?query"; absolute URL through a proxy; host:port for CONNECT), cut at 1 KiB'),
    f('HTTP_METHOD', 360, 'string', 'Method of the first request (GET, POST, ...; any RFC 9110 token)'),
    f('HTTP_RET_CODE', 181, 'unsigned16', 'Status code of the final response to the first request (1xx interim responses skipped; 101 counts); absent without a response'),
    f('HTTP_REFERER', 182, 'string', 'Referer header of the first request'),
    f('HTTP_UA', 183, 'string', 'User-Agent header of the first request'),
    f('HTTP_MIME', 184, 'string', 'Content-Type header of the response to the first request, as sent ("text/html; charset=utf-8")'),
    f('HTTP_HOST', 187, 'string', 'Host header of the first request, as sent (a port included)'),
    f('HTTP_SITE', 361, 'string', 'The Host without port and without its first label when it has three or more ("www.example.com" -> "example.com"); IP literals and two-label names whole'),
    f('HTTP_X_FORWARDED_FOR', 460, 'string', 'X-Forwarded-For of the first request (several header lines joined with ", ")'),
    f('HTTP_VIA', 461, 'string', 'Via of the first request, else of its response (several header lines joined with ", ")'),
    // This probe's own element (no nProbe id): every transaction of the flow, capped at 64.
    f('HTTP_TRANSACTIONS', 0, 'json', 'All request/response pairs of the flow in request order, at most 64, each an object with the HTTP_* fields above'),
  ],
};
