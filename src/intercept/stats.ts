// The connection hook's lines in the -b reports and the exit summary: what the hook answered
// (the runner's counters and latency) and what the capture thread did with it.
import type { NativeInterceptStats } from '../native';
import type { RunnerStats } from './bridge';

export function interceptLines(native: NativeInterceptStats | undefined, runner: RunnerStats | undefined, nfqueue = false): string[] {
  const out: string[] = [];
  if (runner) {
    const v = runner.verdicts;
    out.push(
      `[LUA] intercept_hook: ${runner.calls} calls, pass ${v.pass}, check ${v.check}, reject ${v.reject}, drop ${v.drop}, ` +
        `${runner.defaults} defaults (${runner.errors} errors, ${runner.timeouts} timeouts), ${runner.pending} pending, ` +
        `latency p50 ${runner.p50Us} us, p99 ${runner.p99Us} us`,
    );
  }
  if (native) {
    let line =
      `intercept: ${native.conns} connections, ${native.pending} pending; flows got pass ${native.pass}, check ${native.check}, ` +
      `reject ${native.reject}, drop ${native.drop}, no hook ${native.none}; defaults applied natively: ` +
      `${native.fullDefaults} queue full, ${native.nativeTimeouts} late, ${native.exportDefaults} at flow end; ` +
      `resets ${native.rstSent} sent, ${native.rstFailed} failed`;
    if (nfqueue) line += `; NFQUEUE ${native.nfAccepted} accepted, ${native.nfDropped} dropped, ${native.nfKernelDrops} kernel drops`;
    out.push(line);
  }
  return out;
}
