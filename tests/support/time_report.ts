/**
 * The server's time report (`calculate_time_spent` in winauthmon-server's frontend/routes.py,
 * with its defaults: grouped by user, `continue_iterate` off), written once for the tests, from
 * the rows the reference server double stored.
 *
 * The server stores each timestamp as a naive local time of its zone and sorts the rows by it.
 * Per user, a start event (logon, login, unlock) becomes the user's open session (a later start
 * replaces it); an end event (logoff, logout, lock) closes the open session: when both are on
 * the same calendar day, a duration 0 < d < 24 h is added to that day. The session is dropped
 * either way. A day with no such pair but a first start and a last end gets last end - first
 * start, under the same bounds.
 *
 * @module
 */

/** What the report reads of a stored row. */
export interface ReportRow {
  eventType: string;
  userName: string;
  /** The instant the row's timestamp denotes. */
  epochMs: number;
}

const STARTS = new Set(["login", "unlock", "logon"]);
const ENDS = new Set(["logout", "lock", "logoff"]);
const DAY_SECONDS = 86_400;

interface DayTotal {
  seconds: number;
  sessions: number;
  firstStart?: Temporal.PlainDateTime;
  lastEnd?: Temporal.PlainDateTime;
}

function seconds(from: Temporal.PlainDateTime, to: Temporal.PlainDateTime): number {
  return from.until(to, { largestUnit: "second" }).total("second");
}

/**
 * Seconds worked per "YYYY-MM-DD user" as the server's report computes them, with the server's
 * zone `timeZone` (the double's default, Europe/London).
 */
export function timeSpent(
  rows: readonly ReportRow[],
  timeZone = "Europe/London",
): Map<string, number> {
  const local = rows
    .map((row, index) => ({
      row,
      index,
      at: Temporal.Instant.fromEpochMilliseconds(row.epochMs).toZonedDateTimeISO(timeZone)
        .toPlainDateTime().round({ smallestUnit: "second", roundingMode: "trunc" }),
    }))
    .sort((a, b) => Temporal.PlainDateTime.compare(a.at, b.at) || a.index - b.index);
  const totals = new Map<string, DayTotal>();
  const open = new Map<string, { at: Temporal.PlainDateTime; date: string }>();
  for (const { row, at } of local) {
    const date = at.toPlainDate().toString();
    const key = `${date} ${row.userName}`;
    const total = totals.get(key) ?? { seconds: 0, sessions: 0 };
    totals.set(key, total);
    const type = row.eventType.toLowerCase();
    if (STARTS.has(type)) {
      if (!total.firstStart || Temporal.PlainDateTime.compare(at, total.firstStart) < 0) {
        total.firstStart = at;
      }
      open.set(row.userName, { at, date });
    } else if (ENDS.has(type)) {
      if (!total.lastEnd || Temporal.PlainDateTime.compare(at, total.lastEnd) > 0) {
        total.lastEnd = at;
      }
      const session = open.get(row.userName);
      if (!session) continue;
      if (session.date === date) {
        const duration = seconds(session.at, at);
        if (duration > 0 && duration < DAY_SECONDS) {
          total.seconds += duration;
          total.sessions++;
        }
      }
      open.delete(row.userName);
    }
  }
  const result = new Map<string, number>();
  for (const [key, total] of totals) {
    if (total.sessions === 0 && total.firstStart && total.lastEnd) {
      const duration = seconds(total.firstStart, total.lastEnd);
      if (duration > 0 && duration < DAY_SECONDS) total.seconds += duration;
    }
    result.set(key, total.seconds);
  }
  return result;
}

/** The seconds the report gives `user` over all days. */
export function userSeconds(
  rows: readonly ReportRow[],
  user: string,
  timeZone = "Europe/London",
): number {
  let sum = 0;
  for (const [key, value] of timeSpent(rows, timeZone)) {
    if (key.slice(11) === user) sum += value;
  }
  return sum;
}
