/**
 * Summarizes a V8 CPU profile (the .cpuprofile JSON that `node --cpu-prof` writes) as plain text:
 * self time by function, self time by area (a package, a folder of src/, Node's internals), and
 * inclusive time of the functions in src/. Each sample counts the time delta recorded with it.
 */
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  /** 0-based, in the code that V8 ran: for TypeScript files, tsx's output, whose lines can differ from the source. */
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds since the previous sample. */
  timeDeltas: number[];
}

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const nonCodeFrames = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

function shortPath(url: string): string {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  return path.startsWith(repositoryRoot) ? path.slice(repositoryRoot.length) : path;
}

function functionKey(frame: CallFrame): string {
  if (nonCodeFrames.has(frame.functionName)) return frame.functionName;
  const name = frame.functionName || '(anonymous)';
  return frame.url ? `${name}  ${shortPath(frame.url)}:${frame.lineNumber + 1}` : `${name}  (native)`;
}

/** The package under node_modules, the folder under src/, Node's internals, or the frame's own name. */
function areaOf(frame: CallFrame): string {
  if (nonCodeFrames.has(frame.functionName)) return frame.functionName;
  const path = shortPath(frame.url);
  if (path === '') return '(native code)';
  if (path.startsWith('node:')) return 'node: internals';
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (dependency) return dependency[1]!;
  const source = /^src\/([^/]+(?:\/[^/.]+(?=\/))?)/.exec(path);
  if (source) return `src/${source[1]}`;
  return path;
}

function addTo(totals: Map<string, number>, key: string, microseconds: number): void {
  totals.set(key, (totals.get(key) ?? 0) + microseconds);
}

function topEntries(totals: Map<string, number>, count: number): [string, number][] {
  return [...totals].sort((a, b) => b[1] - a[1]).slice(0, count);
}

/** Returns a text report with the `count` largest entries of each list. */
export function summarizeCpuProfile(profile: CpuProfile, count = 15): string {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

  const selfByFunction = new Map<string, number>();
  const selfByArea = new Map<string, number>();
  const inclusiveInSource = new Map<string, number>();
  let total = 0;
  let idle = 0;

  profile.samples.forEach((nodeId, index) => {
    const microseconds = profile.timeDeltas[index] ?? 0;
    const node = nodes.get(nodeId);
    if (!node) return;
    total += microseconds;
    if (node.callFrame.functionName === '(idle)') {
      idle += microseconds;
      return;
    }
    addTo(selfByFunction, functionKey(node.callFrame), microseconds);
    addTo(selfByArea, areaOf(node.callFrame), microseconds);

    // Each function of src/ on the stack counts once per sample, also when it recurses.
    const seen = new Set<string>();
    for (let current: number | undefined = nodeId; current !== undefined; current = parents.get(current)) {
      const frame = nodes.get(current)!.callFrame;
      if (!shortPath(frame.url).startsWith('src/')) continue;
      const key = functionKey(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      addTo(inclusiveInSource, key, microseconds);
    }
  });

  const busy = total - idle;
  const line = ([key, microseconds]: [string, number]) =>
    `  ${(microseconds / 1000).toFixed(0).padStart(7)} ms  ${((microseconds / busy) * 100).toFixed(1).padStart(5)}%  ${key}`;
  return [
    `Profile: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle; percentages are of the time not idle.`,
    'Lines of src/ files are those of the JavaScript that tsx produced, which can differ slightly from the .ts source.',
    '',
    'Self time by area:',
    ...topEntries(selfByArea, count).map(line),
    '',
    'Self time by function:',
    ...topEntries(selfByFunction, count).map(line),
    '',
    'Inclusive time of functions in src/ (the function and everything it called):',
    ...topEntries(inclusiveInSource, count).map(line),
  ].join('\n');
}
