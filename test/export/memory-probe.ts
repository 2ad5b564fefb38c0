/**
 * Preloaded into a server process by the export memory test (`node --expose-gc --import tsx
 * --import <this file> src/main.ts`). Every 100 ms it collects garbage and measures the live
 * memory: JS heap used plus external memory (Buffers), and RSS. It prints one line per sample to
 * stderr, `MEMORY-PROBE {"liveBytes":…,"peakLiveBytes":…,"rssBytes":…,"peakRssBytes":…}`, with
 * the peaks since start or since the last SIGUSR2, which collects garbage and resets them.
 *
 * Collecting garbage before each sample leaves out the garbage that the young generation contains
 * between collections, so the figures show what the process retains, not how often V8 collects.
 */

const collectGarbage = (globalThis as { gc?: () => void }).gc;
if (collectGarbage === undefined) throw new Error('memory-probe.ts needs node --expose-gc');

let peakLiveBytes = 0;
let peakRssBytes = 0;

function sample(): void {
  collectGarbage!();
  const usage = process.memoryUsage();
  const liveBytes = usage.heapUsed + usage.external;
  peakLiveBytes = Math.max(peakLiveBytes, liveBytes);
  peakRssBytes = Math.max(peakRssBytes, usage.rss);
  process.stderr.write(`MEMORY-PROBE ${JSON.stringify({ liveBytes, peakLiveBytes, rssBytes: usage.rss, peakRssBytes })}\n`);
}

process.on('SIGUSR2', () => {
  peakLiveBytes = 0;
  peakRssBytes = 0;
  sample();
  process.stderr.write('MEMORY-PROBE-RESET\n');
});

setInterval(sample, 100).unref();
