import type { CompileProgress } from '../gpu/warmup.js';

/**
 * A compile-progress callback that stays quiet while compiling is quick (a warm driver cache) and,
 * past `after` ms, reports "compiling kernels 12/40" at most every `every` ms and a closing line.
 */
export function compileProgress(print: (line: string) => void, o: { after?: number; every?: number } = {}): (p: CompileProgress) => void {
  const after = o.after ?? 2000;
  const every = o.every ?? 1000;
  let last = -Infinity;
  return (p) => {
    if (p.ms < after) return;
    if (p.done === p.total) {
      print(`compiled ${p.total} kernels in ${(p.ms / 1000).toFixed(1)} s (first use on this machine: the driver caches them for later runs)`);
    } else if (p.ms - last >= every) {
      print(`compiling kernels ${p.done}/${p.total} (${(p.ms / 1000).toFixed(0)} s)`);
      last = p.ms;
    }
  };
}

/**
 * A progress printer for loops that report "… 3/10 …": each line gets the elapsed time and an ETA from
 * the pace so far (lines without a count are printed as they are).
 */
export function etaLog(print: (line: string) => void, now = () => performance.now()): (line: string) => void {
  const start = now();
  const fmt = (ms: number) => (ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s` : `${(ms / 1000).toFixed(0)}s`);
  return (line) => {
    const m = /(\d+)\/(\d+)/.exec(line);
    const done = m ? Number(m[1]) : 0;
    const total = m ? Number(m[2]) : 0;
    const elapsed = now() - start;
    print(done > 0 && total >= done ? `${line} (elapsed ${fmt(elapsed)}, eta ${fmt((elapsed / done) * (total - done))})` : line);
  };
}

/**
 * Ctrl-C asks a long run to stop after its current step and report what it has (the returned function
 * says whether it was asked); a second Ctrl-C quits at once.
 */
export function stopOnInterrupt(print: (line: string) => void): () => boolean {
  let asked = false;
  // once: the second Ctrl-C finds no listener and Node's default ends the process.
  process.once('SIGINT', () => {
    asked = true;
    print('stopping after the current step and writing the report of what was done (Ctrl-C again to quit now)');
  });
  return () => asked;
}
