// SIP plugin (native/dissect/sip.{h,cc}: RFC 3261 over UDP, SDP per RFC 4566). Field ids are
// nProbe's SIP plugin elements (`nprobe -H`, "Plugin SIP Plugin templates"): IPFIX 35632.<id>,
// NetFlow v9 57472 + id (SIP_CALL_ID = 35632.130 = NFv9 57602).
//
// A flow may carry several calls, registrations and other requests; each Call-ID is one
// transaction. The flat fields describe the flow's first one; SIP_TRANSACTIONS holds all of
// them (at most 64, more counted as the anomaly sip_transactions_cap), each an object with the
// same element names. Times are epoch seconds, as nProbe exports them ("SIP time (epoch)",
// 4 octets); the native file's header comment gives the exact rule for each field.
import { Plugin, field, FieldDef, FieldType } from './types';

const f = (name: string, id: number, type: FieldType, description: string): FieldDef => field('sip', name, id, type, description);

export const plugin: Plugin = {
  name: 'SIP',
  dissector: 'SIP',
  l7: [100],
  luaHook: 'checkSIPFlow',
  luaTable: 'sip',
  fields: [
    f('SIP_CALL_ID', 130, 'string', 'Call-ID of the first transaction (header "Call-ID" or compact "i")'),
    f('SIP_CALLING_PARTY', 131, 'string', 'Caller: From URI of the first INVITE (else of the first message), as "<sip:user@host>", display name and tag dropped'),
    f('SIP_CALLED_PARTY', 132, 'string', 'Callee: To URI of the first INVITE (else of the first message), as "<sip:user@host>"'),
    f('SIP_RTP_CODECS', 133, 'string', 'Media formats of the first SDP body, by rtpmap name or RFC 3551 static name, comma separated ("PCMA,G726-32,telephone-event")'),
    f('SIP_INVITE_TIME', 134, 'unsigned32', 'Epoch seconds of the first INVITE request'),
    f('SIP_TRYING_TIME', 135, 'unsigned32', 'Epoch seconds of the first 100 Trying to an INVITE'),
    f('SIP_RINGING_TIME', 136, 'unsigned32', 'Epoch seconds of the first 180 Ringing or 183 Session Progress to an INVITE'),
    f('SIP_INVITE_OK_TIME', 137, 'unsigned32', 'Epoch seconds of the first 2xx to an INVITE'),
    f('SIP_INVITE_FAILURE_TIME', 138, 'unsigned32', 'Epoch seconds of the first final response >= 300 to an INVITE before any 2xx (refused re-INVITEs are not counted)'),
    f('SIP_BYE_TIME', 139, 'unsigned32', 'Epoch seconds of the first BYE'),
    f('SIP_BYE_OK_TIME', 140, 'unsigned32', 'Epoch seconds of the first 2xx to a BYE'),
    f('SIP_CANCEL_TIME', 141, 'unsigned32', 'Epoch seconds of the first CANCEL'),
    f('SIP_CANCEL_OK_TIME', 142, 'unsigned32', 'Epoch seconds of the first 2xx to a CANCEL'),
    f('SIP_RTP_IPV4_SRC_ADDR', 143, 'ipv4Address', 'RTP address offered by the caller side: IPv4 c= of the first active media of its first SDP'),
    f('SIP_RTP_L4_SRC_PORT', 144, 'unsigned16', 'RTP port offered by the caller side (m= port of the first active media)'),
    f('SIP_RTP_IPV4_DST_ADDR', 145, 'ipv4Address', 'RTP address answered by the callee side (its first SDP)'),
    f('SIP_RTP_L4_DST_PORT', 146, 'unsigned16', 'RTP port answered by the callee side'),
    f('SIP_RESPONSE_CODE', 147, 'unsigned32', 'Final response that ended call setup (first 2xx to an INVITE, else the last failure); without INVITE, the last final response'),
    f('SIP_REASON_CAUSE', 148, 'unsigned32', 'cause= of the first Reason header (RFC 3326, e.g. Q.850 cause 16)'),
    f('SIP_UAC', 316, 'string', 'User-Agent (else Server) header sent by the flow\'s client'),
    f('SIP_UAS', 317, 'string', 'User-Agent (else Server) header sent by the flow\'s server'),
    f('SIP_C_IP', 362, 'string', 'Every distinct SDP c= address of the transaction, comma separated (IPv4 and IPv6)'),
    f('SIP_CALL_STATE', 363, 'string', 'REGISTER; for calls CALL_STARTED, CALL_IN_PROGRESS (answered), CALL_COMPLETED (BYE), CALL_CANCELED, CALL_ERROR (setup failed); UNKNOWN for other requests'),
    f('SIP_REGISTER_MAX_RRD', 528, 'unsigned32', 'Longest REGISTER to final response delay, milliseconds (from the first copy of a CSeq)'),
    // nProbe declares 1 octet for the two counters; a long-lived flow can pass 255.
    f('SIP_REGISTER_NUM_OK', 529, 'unsigned32', 'REGISTER responses 2xx (ok/authorized)'),
    f('SIP_REGISTER_NUM_OTHER', 530, 'unsigned32', 'REGISTER final responses >= 300 (challenges, refusals)'),
    // This probe's own element (no nProbe id): every transaction of the flow, capped at 64.
    f('SIP_TRANSACTIONS', 0, 'json', 'All transactions (Call-IDs) of the flow, at most 64, each an object with the SIP_* fields above'),
  ],
};
