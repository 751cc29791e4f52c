// JSON lines output (--json-out FILE|-): one object per flow per line, keys as nProbe names
// them. Writes batches and honours the stream's back-pressure, so a slow consumer slows the
// capture (file mode) instead of growing memory.
import * as fs from 'fs';
import { FlowRecord, RawJson, recordsWithRawJson } from '../record';

/**
 * One flow as a JSON object: JSON.stringify's output, except that RawJson values (the
 * transactions) are inlined as the text they already are instead of parsed and re-written.
 */
export function flowToJson(flow: FlowRecord): string {
  // Most records hold no RawJson: V8's own serializer is the fastest way for them.
  if (!recordsWithRawJson.has(flow)) return JSON.stringify(flow);
  let out = '{';
  let first = true;
  for (const k in flow) {
    const v = flow[k];
    if (v === undefined) continue;
    out += (first ? '"' : ',"') + k + '":';
    first = false;
    if (typeof v === 'number') out += Number.isFinite(v) ? String(v) : 'null';
    else if (v instanceof RawJson) out += v.text;
    else out += JSON.stringify(v);
  }
  return out + '}';
}

export class JsonLinesWriter {
  private readonly stream: NodeJS.WritableStream;
  private readonly ownsStream: boolean;
  private failed: Error | null = null;
  written = 0;

  constructor(target: string) {
    if (target === '-') {
      this.stream = process.stdout;
      this.ownsStream = false;
    } else {
      // Open synchronously so a bad path is a clear error before capture starts.
      const fd = fs.openSync(target, 'w');
      this.stream = fs.createWriteStream(target, { fd });
      this.ownsStream = true;
    }
    this.stream.on('error', (e: Error) => {
      this.failed = e;
    });
  }

  /** Writes a batch; resolves when the stream can take more (or at once if it can). */
  write(flows: FlowRecord[]): void | Promise<void> {
    if (flows.length === 0) return;
    let text = '';
    for (const f of flows) text += flowToJson(f) + '\n';
    return this.writeText(text, flows.length);
  }

  /** Writes lines already formatted (FlowBatch.jsonLines()) for `flows` flows. */
  writeText(text: string | Buffer, flows: number): void | Promise<void> {
    if (this.failed) throw this.failed;
    if (flows === 0) return;
    this.written += flows;
    if (this.stream.write(text)) return;
    return new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        this.stream.off('error', onError);
        resolve();
      };
      const onError = (e: Error): void => {
        this.stream.off('drain', onDrain);
        reject(e);
      };
      this.stream.once('drain', onDrain);
      this.stream.once('error', onError);
    });
  }

  /** Bytes written and not yet taken by the file or pipe. */
  get backlogBytes(): number {
    return (this.stream as NodeJS.WritableStream & { writableLength?: number }).writableLength ?? 0;
  }

  /** Flushes and closes (stdout is flushed, not closed). */
  close(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      if (this.ownsStream) {
        (this.stream as fs.WriteStream).end(() => (this.failed ? reject(this.failed) : resolve()));
      } else {
        // Resolves once everything written so far has been handed to the OS.
        this.stream.write('', () => resolve());
      }
    });
  }
}
