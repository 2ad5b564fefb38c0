const MINUTE_MS = 60 * 1000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

export type BucketSize = 'HOUR' | 'DAY';

export interface TimeBucket {
  start: Date;
  /** Exclusive. */
  end: Date;
}

/** An IANA name such as Europe/Paris or Etc/GMT+5; offsets such as +05:30 are not zone names. */
const zoneNamePattern = /^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/;

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

/**
 * Returns the canonical spelling of an IANA time zone name (`utc` becomes `UTC`), or undefined when
 * the name is missing from the ICU time zone data of this Node.js build. A name that ICU resolves to
 * another zone id is returned as given.
 */
export function canonicalTimeZone(name: string): string | undefined {
  if (!zoneNamePattern.test(name)) return undefined;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
  // The ICU data of Node.js 20 resolves current names to their older links, such as Asia/Kolkata to
  // Asia/Calcutta and Europe/Kyiv to Europe/Kiev, so only a change of letter case is taken from it.
  return resolved.toLowerCase() === name.toLowerCase() ? resolved : name;
}

/** Returns the offset of local time in `timeZone` from UTC at `instant`, in milliseconds (positive east of Greenwich). */
export function zoneOffsetMs(timeZone: string, instant: number): number {
  if (timeZone === 'UTC') return 0;
  let formatter = offsetFormatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
    offsetFormatters.set(timeZone, formatter);
  }
  // longOffset reads "GMT" for a zero offset and "GMT-05:00" or "GMT+05:45" otherwise.
  const name = formatter.formatToParts(instant).find((part) => part.type === 'timeZoneName')?.value ?? 'GMT';
  const match = /^GMT([+-])(\d{2}):(\d{2})$/.exec(name);
  if (!match) return 0;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return (match[1] === '-' ? -minutes : minutes) * MINUTE_MS;
}

/** Returns the local calendar day of `instant` in `timeZone` as a number of days since 1970-01-01. */
function localDay(timeZone: string, instant: number): number {
  return Math.floor((instant + zoneOffsetMs(timeZone, instant)) / DAY_MS);
}

/**
 * Returns the first UTC hour that belongs to the local day containing `instant`. It assumes that
 * the zone's offsets are whole hours, so that each local day starts at a UTC hour boundary, also on
 * a day whose midnight a daylight saving change skips.
 */
function startOfLocalDay(timeZone: string, instant: number): number {
  const day = localDay(timeZone, instant);
  // Local midnight, converted with the offset at `instant`. A change of offset in between moves it
  // by the difference, so the loops correct it hour by hour.
  let start = Math.floor((day * DAY_MS - zoneOffsetMs(timeZone, instant)) / HOUR_MS) * HOUR_MS;
  while (localDay(timeZone, start) > day) start -= HOUR_MS;
  while (localDay(timeZone, start) < day) start += HOUR_MS;
  while (localDay(timeZone, start - HOUR_MS) === day) start -= HOUR_MS;
  return start;
}

/**
 * Finds an instant at which `timeZone` is offset from UTC by a part of an hour, such as +05:30, and
 * returns it with that offset. It checks `from`, `to` and every UTC midnight in between. Returns
 * undefined when the offset is a whole number of hours at all of them.
 */
export function findPartHourOffset(timeZone: string, from: Date, to: Date): { at: Date; offsetMs: number } | undefined {
  const instants = [from.getTime()];
  for (let midnight = Math.ceil(from.getTime() / DAY_MS) * DAY_MS; midnight < to.getTime(); midnight += DAY_MS) instants.push(midnight);
  instants.push(to.getTime());
  for (const instant of instants) {
    const offsetMs = zoneOffsetMs(timeZone, instant);
    if (offsetMs % HOUR_MS !== 0) return { at: new Date(instant), offsetMs };
  }
  return undefined;
}

/**
 * Returns the start of the bucket that contains `instant`: its UTC hour for HOUR, the first hour of
 * its local day in `timeZone` for DAY. The zone must have whole-hour offsets (findPartHourOffset).
 */
export function bucketStart(size: BucketSize, timeZone: string, instant: Date): Date {
  if (size === 'HOUR') return new Date(Math.floor(instant.getTime() / HOUR_MS) * HOUR_MS);
  return new Date(startOfLocalDay(timeZone, instant.getTime()));
}

/**
 * Returns the buckets that cover [from, to), widened to whole buckets: the first starts at or before
 * `from` and the last ends at or after `to`. HOUR buckets are UTC hours. DAY buckets are local days
 * of `timeZone`, 23 or 25 hours long on a daylight saving change.
 */
export function coveringBuckets(size: BucketSize, timeZone: string, from: Date, to: Date): TimeBucket[] {
  const buckets: TimeBucket[] = [];
  let start = bucketStart(size, timeZone, from).getTime();
  while (start < to.getTime()) {
    // A local day is 23 to 25 hours long, so 30 hours after its start lies in the next day.
    const end = size === 'HOUR' ? start + HOUR_MS : startOfLocalDay(timeZone, start + 30 * HOUR_MS);
    buckets.push({ start: new Date(start), end: new Date(end) });
    start = end;
  }
  return buckets;
}
