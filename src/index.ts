// Library entry point: the typed API the CLI is built on.
export { Probe, ProbeError, ProbeOptions, ProbeStats, FlowSink, isCaptureFile } from './probe';
export { FlowRecord, FlowEndReason, decodeBatch } from './record';
export { JsonLinesWriter } from './export/json';
export { ipv4ToString, ipv6ToString, macToString } from './format';
