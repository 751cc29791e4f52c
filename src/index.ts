// Library entry point: the typed API the CLI is built on.
export { Probe, ProbeError, isCaptureFile } from './probe';
export type { ProbeOptions, ProbeStats, FlowSink } from './probe';
export { FlowEndReason, decodeBatch } from './record';
export type { FlowRecord } from './record';
export { JsonLinesWriter } from './export/json';
export { ipv4ToString, ipv6ToString, macToString } from './format';
