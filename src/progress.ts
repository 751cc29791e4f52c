// A one-line progress bar for reading a capture file on a terminal (never when stderr is
// not a TTY): share of the file read, packet rate, flows.
import { ProbeStats } from './probe';
import { si } from './stats';

export class ProgressBar {
  private lastPackets = 0;
  private lastAt = Date.now();
  private shown = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  static wanted(out: NodeJS.WriteStream = process.stderr): boolean {
    return Boolean(out.isTTY);
  }

  update(s: ProbeStats, now = Date.now()): void {
    const share = s.fileSize > 0 ? Math.min(1, s.filePos / s.fileSize) : 0;
    const dt = Math.max((now - this.lastAt) / 1000, 1e-3);
    const rate = (s.packets - this.lastPackets) / dt;
    this.lastPackets = s.packets;
    this.lastAt = now;
    const width = 30;
    const full = Math.round(share * width);
    const bar = '#'.repeat(full) + '.'.repeat(width - full);
    const line = `[${bar}] ${(share * 100).toFixed(0).padStart(3)}%  ${si(rate, 'pkt/s')}  ${s.packets} pkts  ${s.flowsCreated} flows`;
    this.out.write(`\r${line}\x1b[K`);
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }
}
