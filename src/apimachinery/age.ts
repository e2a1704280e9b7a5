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

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** The decimal value of s[from, from+n), or -1 when a character is not a digit. */
function digits(s: string, from: number, n: number): number {
  let v = 0;
  for (let i = from; i < from + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * Parses a timestamp as Go's `time.Parse(time.RFC3339, s)` accepts it
 * (`2006-01-02T15:04:05[.fraction](Z|±07:00)`); milliseconds since the epoch, or undefined.
 * Hand-written because it runs once per row of every table.
 */
export function parseRfc3339(s: string): number | undefined {
  if (s.length < 20 || s[4] !== "-" || s[7] !== "-" || s[10] !== "T" || s[13] !== ":" || s[16] !== ":") {
    return undefined;
  }
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) {
    return undefined;
  }
  if (d > (mo === 2 && isLeap(y) ? 29 : MONTH_DAYS[mo - 1])) return undefined;
  let i = 19;
  let frac = 0;
  if (s[i] === ".") {
    let scale = 0.1;
    const begin = ++i;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      frac += c * scale;
      scale /= 10;
    }
    if (i === begin) return undefined;
  }
  let offset = 0;
  if (s[i] === "Z" && i + 1 === s.length) {
    offset = 0;
  } else if ((s[i] === "+" || s[i] === "-") && i + 6 === s.length && s[i + 3] === ":") {
    const oh = digits(s, i + 1, 2);
    const om = digits(s, i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return undefined;
    offset = (s[i] === "+" ? 1 : -1) * (oh * 60 + om) * MINUTE;
  } else {
    return undefined;
  }
  return (daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec + frac) * 1000 - offset;
}

/** Go's zero time.Time, 0001-01-01T00:00:00Z, which metav1.Time treats as unset. */
const GO_ZERO_TIME = -62135596800000;

/**
 * The cell of a `date` column, as metatable.ConvertToHumanReadableDateType: "" (and "null") is the
 * zero time → `<unknown>`, an unparsable timestamp → `<invalid>`, otherwise the age at `now`.
 */
export function humanAge(timestamp: string, now: number): string {
  if (timestamp === "" || timestamp === "null") return "<unknown>";
  const t = parseRfc3339(timestamp);
  if (t === undefined) return "<invalid>";
  if (t === GO_ZERO_TIME) return "<unknown>";
  return humanDuration(now - t);
}
