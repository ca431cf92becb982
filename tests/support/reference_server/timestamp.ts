/**
 * Python's `datetime.strptime` as the reference server calls it on an event's `Timestamp`: the
 * five formats it tries, with Python's leniencies.
 *
 * @module
 */

const DIRECTIVES: Record<string, string> = {
  Y: String.raw`(?<Y>\d\d\d\d)`,
  m: String.raw`(?<m>1[0-2]|0[1-9]|[1-9])`,
  d: String.raw`(?<d>3[01]|[12]\d|0[1-9]|[1-9]| [1-9])`,
  H: String.raw`(?<H>2[0-3]|[0-1]\d|\d)`,
  M: String.raw`(?<M>[0-5]\d|\d)`,
  S: String.raw`(?<S>6[0-1]|[0-5]\d|\d)`,
  z: String.raw`(?<z>[+-]\d\d:?[0-5]\d(?::?[0-5]\d(?:\.\d{1,6})?)?|(?-i:Z))`,
};

const NS_PER_SECOND = 1_000_000_000n;
const DAY_NS = 86_400n * NS_PER_SECOND;

const formatCache = new Map<string, RegExp>();

/** Python `TimeRE.pattern`: regex characters escaped, whitespace runs as `\s+`, IGNORECASE. */
function strptimeRegex(format: string): RegExp {
  let regex = formatCache.get(format);
  if (regex === undefined) {
    let source = "";
    for (let i = 0; i < format.length; i++) {
      const c = format[i];
      if (c === "%") {
        source += DIRECTIVES[format[++i]];
      } else if (/\s/.test(c)) {
        while (i + 1 < format.length && /\s/.test(format[i + 1])) i++;
        source += String.raw`\s+`;
      } else {
        source += c.replace(/[\\.^$*+?()[\]{}|]/g, "\\$&");
      }
    }
    regex = new RegExp(`^(?:${source})`, "i");
    formatCache.set(format, regex);
  }
  return regex;
}

/**
 * Python `datetime.strptime(value, format)` for the directives the server uses: null where Python
 * raises ValueError. Returns epoch nanoseconds of the wall-clock fields read as UTC, and the
 * offset in nanoseconds (null when the format has no `%z`).
 */
function strptime(
  value: string,
  format: string,
): { localNs: bigint; offsetNs: bigint | null } | null {
  const found = strptimeRegex(format).exec(value);
  if (found === null || found[0].length !== value.length) return null;
  const g = found.groups!;
  const year = Number(g.Y);
  if (year < 1) return null;
  let local: Temporal.PlainDateTime;
  try {
    local = Temporal.PlainDateTime.from({
      year,
      month: Number(g.m),
      day: Number(g.d),
      hour: Number(g.H),
      minute: Number(g.M),
      second: Number(g.S),
    }, { overflow: "reject" });
  } catch {
    return null;
  }
  const localNs = local.toZonedDateTime("UTC").epochNanoseconds;
  if (g.z === undefined) return { localNs, offsetNs: null };
  if (g.z === "Z") return { localNs, offsetNs: 0n };
  let z = g.z;
  if (z[3] === ":") {
    z = z.slice(0, 3) + z.slice(4);
    if (z.length > 5) {
      if (z[5] !== ":") return null; // Inconsistent use of : in ...
      z = z.slice(0, 5) + z.slice(6);
    }
  }
  const seconds = z.slice(5, 7);
  if (seconds !== "" && !/^\d+$/.test(seconds)) return null;
  const fraction = z.slice(8);
  let offsetNs = (BigInt(Number(z.slice(1, 3)) * 3600 + Number(z.slice(3, 5)) * 60) +
        BigInt(seconds === "" ? 0 : Number(seconds))) * NS_PER_SECOND +
    BigInt(Number(fraction.padEnd(6, "0") || "0")) * 1000n;
  if (z[0] === "-") offsetNs = -offsetNs;
  // datetime.timezone: strictly between -24 h and +24 h
  if (offsetNs <= -DAY_NS || offsetNs >= DAY_NS) return null;
  return { localNs, offsetNs };
}

const NAMED_ZONES: Record<string, number> = { BST: 3600, GMT: 0, UTC: 0 };

/**
 * Parses a `Timestamp` exactly as the reference server does (its five strptime formats, in its
 * order): `YYYY-MM-DDTHH:MM:SS±HH:MM` (also `±HHMM`, `Z`), `YYYY-MM-DDTHH:MM:SSZ`,
 * `YYYY-MM-DD HH:MM:SS GMT|BST|UTC`, `YYYY-MM-DD HH:MM:SS` (UTC) and `YYYY-MM-DD HH:MM:SS±HHMM`.
 * Python's leniencies are kept: one-digit fields, case-insensitive `T`, any whitespace run for a
 * space. Fractional seconds never parse. Returns null where the server answers 400.
 */
export function parseReferenceTimestamp(value: string): Temporal.Instant | null {
  const instant = (localNs: bigint, offsetNs: bigint) =>
    Temporal.Instant.fromEpochNanoseconds(localNs - offsetNs);
  const rfc3339 = strptime(value, "%Y-%m-%dT%H:%M:%S%z");
  if (rfc3339 !== null) return instant(rfc3339.localNs, rfc3339.offsetNs!);
  const zulu = strptime(value, "%Y-%m-%dT%H:%M:%SZ");
  if (zulu !== null) return instant(zulu.localNs, 0n);
  const space = value.lastIndexOf(" ");
  if (space !== -1) {
    const named = strptime(value.slice(0, space), "%Y-%m-%d %H:%M:%S");
    const zone = value.slice(space + 1);
    if (named !== null && Object.hasOwn(NAMED_ZONES, zone)) {
      return instant(named.localNs, BigInt(NAMED_ZONES[zone]) * NS_PER_SECOND);
    }
  }
  const naive = strptime(value, "%Y-%m-%d %H:%M:%S");
  if (naive !== null) return instant(naive.localNs, 0n);
  const numeric = strptime(value, "%Y-%m-%d %H:%M:%S%z");
  if (numeric !== null) return instant(numeric.localNs, numeric.offsetNs!);
  return null;
}
