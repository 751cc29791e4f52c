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
  private readonly stream: NodeJS.WritableStream | null = null;
  // A file or a device (/dev/null) is written synchronously: the lines may be a view of the
  // core's scratch memory (FlowBatch.jsonLines()), and a local write is fast. A pipe or a
  // socket (stdout) goes through a stream, with a copy, so a slow reader is back-pressure.
  private readonly fd: number = -1;
  private readonly ownsFd: boolean = false;
  private failed: Error | null = null;
  written = 0;

  constructor(target: string) {
    if (target === '-') {
      const st = fs.fstatSync(1);
      if (st.isFile() || (st.isCharacterDevice() && !process.stdout.isTTY)) this.fd = 1;
      else this.stream = process.stdout;
    } else {
      // Open synchronously so a bad path is a clear error before capture starts.
      this.fd = fs.openSync(target, 'w');
      this.ownsFd = true;
    }
    this.stream?.on('error', (e: Error) => {
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
    const stream = this.stream;
    if (!stream) {
      const buf = typeof text === 'string' ? Buffer.from(text) : text;
      try {
        for (let off = 0; off < buf.length; ) off += fs.writeSync(this.fd, buf, off, buf.length - off);
      } catch (e) {
        this.failed = e as Error;
        throw e;
      }
      return;
    }
    if (stream.write(typeof text === 'string' ? text : Buffer.from(text))) return;
    return new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        stream.off('error', onError);
        resolve();
      };
      const onError = (e: Error): void => {
        stream.off('drain', onDrain);
        reject(e);
      };
      stream.once('drain', onDrain);
      stream.once('error', onError);
    });
  }

  /** Bytes written and not yet taken by the file or pipe. */
  get backlogBytes(): number {
    if (!this.stream) return 0;
    return (this.stream as NodeJS.WritableStream & { writableLength?: number }).writableLength ?? 0;
  }

  /** Flushes and closes (stdout is flushed, not closed). */
  close(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      if (!this.stream) {
        if (this.ownsFd) fs.close(this.fd, (e) => (e ? reject(e) : resolve()));
        else resolve();
      } else {
        // Resolves once everything written so far has been handed to the OS.
        this.stream.write('', () => resolve());
      }
    });
  }
}
