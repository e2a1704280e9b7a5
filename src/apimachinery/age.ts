/**
 * Human ages for table cells, exactly as k8s.io/apimachinery/pkg/util/duration.HumanDuration writes
 * them (what the CRD table convertor puts in `date` columns): ~2-3 significant figures.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** `ms` is a duration in milliseconds (now minus then); negatives beyond clock skew are `<invalid>`. */
export function humanDuration(ms: number): string {
  // Go truncates toward zero: up to 2 s in the future still reads as "0s".
  const seconds = Math.trunc(ms / SECOND);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(ms / MINUTE);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(ms / HOUR);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    const d = Math.trunc(hours / 24);
    return h === 0 ? `${d}d` : `${d}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const years = Math.trunc(hours / 24 / 365);
    const dy = Math.trunc(hours / 24) % 365;
    return dy === 0 ? `${years}y` : `${years}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;

/**
 * Parses a timestamp as Go's `time.Parse(time.RFC3339, s)` accepts it; milliseconds since the
 * epoch, or undefined when it is not one.
 */
export function parseRfc3339(s: string): number | undefined {
  const m = RFC3339.exec(s);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59) return undefined;
  let t = Date.UTC(y, mo - 1, d, h, mi, sec);
  if (y < 100) t = new Date(t).setUTCFullYear(y);
  if (m[7] !== undefined) t += Number(`0${m[7]}`) * 1000;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    const off = (oh * 60 + om) * MINUTE;
    t += m[9] === "+" ? -off : off;
  }
  return t;
}

function daysIn(y: number, mo: number): number {
  return new Date(Date.UTC(2000, mo, 0)).getUTCDate() - (mo === 2 && !isLeap(y) ? 1 : 0);
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/**
 * The cell of a `date` column, as metatable.ConvertToHumanReadableDateType: "" (and "null") is the
 * zero time → `<unknown>`, an unparsable timestamp → `<invalid>`, otherwise the age at `now`.
 */
export function humanAge(timestamp: string, now: number): string {
  if (timestamp === "" || timestamp === "null") return "<unknown>";
  const t = parseRfc3339(timestamp);
  if (t === undefined) return "<invalid>";
  return humanDuration(now - t);
}
