/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests: it throws on the
 * first line that breaks the format, so a test that parses a scrape also checks its syntax.
 * prom-client 15 has no parser of its own.
 *
 * It checks HELP and TYPE lines: at most one of each per family, and TYPE before the family's
 * samples. It checks metric and label name syntax, label value escapes and sample values. Each
 * sample must belong to a declared family under a name its type allows, and no series may repeat.
 * A histogram needs an `le` label on every bucket, cumulative bucket counts, and a `+Inf` bucket
 * equal to `_count`.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string | undefined;
  samples: Sample[];
}

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const types: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

/** Sample name suffixes that each type allows beside the family name itself. */
const suffixes: Record<MetricType, readonly string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const helpSeen = new Set<string>();
  const seriesSeen = new Set<string>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();

  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line.slice(0, 120))})`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      parseComment(line, where, families, helpSeen);
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, families);
    if (family === undefined) throw new Error(`${where}: sample ${sample.name} has no TYPE line before it`);
    const series = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seriesSeen.has(series)) throw new Error(`${where}: duplicate series`);
    seriesSeen.add(series);
    if (family.type === 'histogram' && sample.name.endsWith('_bucket') && sample.labels.le === undefined) {
      throw new Error(`${where}: histogram bucket without an le label`);
    }
    family.samples.push(sample);
  });

  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function parseComment(line: string, where: string, families: Map<string, MetricFamily>, helpSeen: Set<string>): void {
  const match = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
  if (!match) return; // A plain comment.
  const [, keyword, name, rest = ''] = match;
  if (!metricNamePattern.test(name!)) throw new Error(`${where}: invalid metric name ${name}`);

  if (keyword === 'HELP') {
    if (helpSeen.has(name!)) throw new Error(`${where}: second HELP for ${name}`);
    helpSeen.add(name!);
    const family = families.get(name!);
    if (family) family.help = unescapeHelp(rest);
    else families.set(name!, { name: name!, type: 'untyped', help: unescapeHelp(rest), samples: [] });
    return;
  }

  if (!(types as readonly string[]).includes(rest)) throw new Error(`${where}: unknown type ${rest}`);
  const existing = families.get(name!);
  if (existing && (existing.samples.length > 0 || existing.type !== 'untyped')) {
    throw new Error(`${where}: TYPE for ${name} after its samples or a second TYPE`);
  }
  families.set(name!, { name: name!, type: rest as MetricType, help: existing?.help, samples: [] });
}

function parseSample(line: string, where: string): Sample {
  const nameMatch = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!nameMatch) throw new Error(`${where}: expected a metric name`);
  const name = nameMatch[1]!;
  let position = name.length;
  const labels: Record<string, string> = {};

  if (line[position] === '{') {
    position += 1;
    while (line[position] !== '}') {
      const labelMatch = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(position));
      if (!labelMatch) throw new Error(`${where}: expected label="value" at column ${position + 1}`);
      const labelName = labelMatch[1]!;
      if (!labelNamePattern.test(labelName) || labelName in labels) throw new Error(`${where}: invalid or repeated label ${labelName}`);
      position += labelMatch[0].length;
      let value = '';
      for (;;) {
        const character = line[position];
        if (character === undefined) throw new Error(`${where}: unterminated label value`);
        position += 1;
        if (character === '"') break;
        if (character === '\\') {
          const escaped = line[position];
          position += 1;
          if (escaped === 'n') value += '\n';
          else if (escaped === '\\' || escaped === '"') value += escaped;
          else throw new Error(`${where}: invalid escape \\${escaped} in a label value`);
        } else {
          value += character;
        }
      }
      labels[labelName] = value;
      if (line[position] === ',') position += 1;
      else if (line[position] !== '}') throw new Error(`${where}: expected , or } after a label value`);
    }
    position += 1;
  }

  const rest = line.slice(position);
  const valueMatch = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
  if (!valueMatch) throw new Error(`${where}: expected one space, a value and an optional timestamp`);
  return { name, labels, value: parseValue(valueMatch[1]!, where) };
}

/**
 * Parses a sample value. The format takes any value that Go's strconv.ParseFloat takes, which
 * reads NaN and Inf in any case, and prom-client 15 writes NaN as `Nan`.
 */
function parseValue(text: string, where: string): number {
  if (/^\+?inf(?:inity)?$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf(?:inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  if (!/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: invalid sample value ${text}`);
  return Number(text);
}

function familyOf(sampleName: string, families: Map<string, MetricFamily>): MetricFamily | undefined {
  for (const [name, family] of families) {
    for (const suffix of suffixes[family.type]) {
      if (sampleName === name + suffix) return family;
    }
  }
  return undefined;
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(n|\\)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : '\\'));
}

function checkHistogram(family: MetricFamily): void {
  const groups = new Map<string, Sample[]>();
  const counts = new Map<string, number>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    if (sample.name.endsWith('_bucket')) groups.set(key, [...(groups.get(key) ?? []), sample]);
    if (sample.name.endsWith('_count')) counts.set(key, sample.value);
  }
  for (const [key, buckets] of groups) {
    const ordered = [...buckets].sort((a, b) => parseValue(a.labels.le!, family.name) - parseValue(b.labels.le!, family.name));
    for (let index = 1; index < ordered.length; index += 1) {
      if (ordered[index]!.value < ordered[index - 1]!.value) throw new Error(`${family.name}${key}: bucket counts are not cumulative`);
    }
    const last = ordered.at(-1)!;
    if (last.labels.le !== '+Inf') throw new Error(`${family.name}${key}: no +Inf bucket`);
    if (counts.get(key) !== last.value) throw new Error(`${family.name}${key}: the +Inf bucket differs from _count`);
  }
}

/** Returns the value of the one sample named `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = familyOf(name, families);
  const matches = (family?.samples ?? []).filter(
    (sample) => sample.name === name && Object.entries(labels).every(([label, value]) => sample.labels[label] === value),
  );
  if (matches.length > 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}; name every label`);
  return matches[0]?.value;
}
