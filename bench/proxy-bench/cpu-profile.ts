/**
 * Summarizes a V8 CPU profile (the .cpuprofile JSON that `node --cpu-prof` writes) as plain text:
 * self and inclusive time by area (a package, a folder of src/, Node's internals), self time by
 * function, and inclusive time of the functions in src/. Each sample counts the time delta
 * recorded with it. V8 attributes the time of built-ins such as JSON.parse to the calling function.
 */
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  /**
   * 0-based, in the code that V8 ran. tsx (4.23) emits each TypeScript module on one line, so for
   * those files only the column distinguishes two functions.
   */
  lineNumber: number;
  /** 0-based. */
  columnNumber: number;
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
  if (!frame.url) return `${name}  (native)`;
  return `${name}  ${shortPath(frame.url)}:${frame.lineNumber + 1}:${frame.columnNumber + 1}`;
}

/** Returns the area of a frame: its package under node_modules, its folder under src/, Node's internals, or the frame's own name. */
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
  const inclusiveByArea = new Map<string, number>();
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

    // Each area and each function of src/ on the stack counts once per sample, also when it recurses.
    const seenAreas = new Set<string>();
    const seenFunctions = new Set<string>();
    for (let current: number | undefined = nodeId; current !== undefined; current = parents.get(current)) {
      const frame = nodes.get(current)!.callFrame;
      if (frame.functionName === '(root)') continue;
      const area = areaOf(frame);
      if (!seenAreas.has(area)) {
        seenAreas.add(area);
        addTo(inclusiveByArea, area, microseconds);
      }
      if (!shortPath(frame.url).startsWith('src/')) continue;
      const key = functionKey(frame);
      if (seenFunctions.has(key)) continue;
      seenFunctions.add(key);
      addTo(inclusiveInSource, key, microseconds);
    }
  });

  const busy = total - idle;
  const line = ([key, microseconds]: [string, number]) =>
    `  ${(microseconds / 1000).toFixed(0).padStart(7)} ms  ${((microseconds / busy) * 100).toFixed(1).padStart(5)}%  ${key}`;
  return [
    `Profile: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle; percentages are of the time not idle.`,
    'The profile covers the whole process, start-up (module loading) included. Positions are line:column of the code V8 ran;',
    'tsx emits each src/ module on one line, so there only the column differs, and it counts in the transpiled code.',
    '',
    'Self time by area:',
    ...topEntries(selfByArea, count).map(line),
    '',
    'Inclusive time by area (the area and everything it called):',
    ...topEntries(inclusiveByArea, count).map(line),
    '',
    'Self time by function:',
    ...topEntries(selfByFunction, count).map(line),
    '',
    'Inclusive time of functions in src/ (the function and everything it called):',
    ...topEntries(inclusiveInSource, count).map(line),
  ].join('\n');
}
