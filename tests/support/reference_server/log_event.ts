/**
 * The reference server's `POST /api/log_event` after authentication (api/routes.py at b5fc6728),
 * step by step in the server's order: `request.get_json()`, `data['Timestamp']` and the five
 * strptime formats, the duplicate query, then the insert with its column limits and NOT NULLs.
 *
 * @module
 */
import type { StoredEvent } from "./types.ts";
import { coerceRetry, notNull, notSubscriptable, pythonType } from "./flask.ts";
import type { RawRequest } from "./http.ts";
import { parseReferenceTimestamp } from "./timestamp.ts";
import { errorText } from "../../../src/text.ts";

/** Status, body and, for a 201, the row to store. */
export type Outcome = [number, unknown, StoredEvent?];

/** What log_event reads and changes of the server it runs in. */
export interface LogEventContext {
  /** The server's TIMEZONE. */
  timeZone: string;
  /** Behave as the older server: `IPAddress` required and used in the duplicate check. */
  legacyIpAddress: boolean;
  /** Enforce the column limits as PostgreSQL does. */
  strictColumns: boolean;
  /** Duplicate keys of the stored rows; a new row's key is added here. */
  storedKeys: Set<string>;
}

/** The event as read before the duplicate query. */
interface ReadEvent {
  fields: Record<string, unknown>;
  raw: string;
  instant: Temporal.Instant;
  storedTimestamp: string;
}

/** The 500 answer "Failed to log event: <detail>" of the route's `except`. */
export function failure(detail: string): Outcome {
  return [500, { message: `Failed to log event: ${detail}`, status: "error" }];
}

/** Answers one authenticated log_event request as the server does. */
export function logEvent(request: RawRequest, clientIp: string, context: LogEventContext): Outcome {
  const read = readEvent(request, context.timeZone);
  return Array.isArray(read) ? read : insertEvent(read, clientIp, context);
}

/** `request.get_json()`, then `timestamp_str = data['Timestamp']` and the five formats. */
function readEvent(request: RawRequest, timeZone: string): ReadEvent | Outcome {
  const mimetype = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (
    mimetype !== "application/json" &&
    !(mimetype.startsWith("application/") && mimetype.endsWith("+json"))
  ) {
    return failure(
      "415 Unsupported Media Type: Did not attempt to load JSON data because the request Content-Type was not 'application/json'.",
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(request.body));
  } catch (error) {
    return failure(
      `400 Bad Request: Failed to decode JSON object: ${errorText(error)}`,
    );
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return failure(notSubscriptable(data));
  }
  const fields = data as Record<string, unknown>;

  if (!("Timestamp" in fields)) return failure("'Timestamp'");
  const raw = fields.Timestamp;
  if (typeof raw !== "string") {
    return failure(`strptime() argument 1 must be str, not ${pythonType(raw)}`);
  }
  const instant = parseReferenceTimestamp(raw);
  if (instant === null) {
    return [400, { message: `Could not parse timestamp: ${raw}`, status: "error" }];
  }
  const wallClock = instant.toZonedDateTimeISO(timeZone).toPlainDateTime();
  if (wallClock.year < 1 || wallClock.year > 9999) return failure("date value out of range");
  const storedTimestamp = wallClock.toString({ smallestUnit: "microsecond" }).replace(
    /\.000000$/,
    "",
  );
  return { fields, raw, instant, storedTimestamp };
}

/** `is_retry = data.get('retry', 0)`, the duplicate query, then the INSERT. */
function insertEvent(
  { fields, raw, instant, storedTimestamp }: ReadEvent,
  clientIp: string,
  context: LogEventContext,
): Outcome {
  const legacy = context.legacyIpAddress;
  const retry = "retry" in fields ? fields.retry : 0;
  for (const name of ["EventType", "UserName", "ComputerName"]) {
    if (!(name in fields)) return failure(`'${name}'`);
  }
  if (legacy && !("IPAddress" in fields)) return failure("'IPAddress'");
  const ipKeyField = legacy ? "IPAddress" : "LocalIP";
  const values = columnValues(fields);
  if (typeof values === "string") return failure(values);
  const duplicateKey = JSON.stringify([
    values.EventType,
    values.UserName,
    values.ComputerName,
    values[ipKeyField],
    storedTimestamp,
  ]);
  if (context.storedKeys.has(duplicateKey)) {
    return [200, { message: "Event already recorded", status: "success" }];
  }

  // INSERT: type coercion and column lengths, then NOT NULL
  const columns: [string, string, number][] = [
    ["EventType", "event_type", 20],
    ["UserName", "user_name", 50],
    ["ComputerName", "computer_name", 50],
    [ipKeyField, legacy ? "ip_address" : "local_ip", 45],
    ...(legacy ? [] : [["PublicIP", "public_ip", 45] as [string, string, number]]),
  ];
  if (context.strictColumns) {
    for (const [name, , size] of columns) {
      const value = values[name];
      if (value !== null && [...value].length > size) {
        return failure(
          `(psycopg2.errors.StringDataRightTruncation) value too long for type character varying(${size})`,
        );
      }
    }
  }
  const retryValue = coerceRetry(retry);
  if (typeof retryValue === "string") return failure(retryValue);
  for (const [name, column] of columns.slice(0, 3)) {
    if (values[name] === null) return failure(notNull(column));
  }
  if (retryValue === null) return failure(notNull("retry"));

  context.storedKeys.add(duplicateKey);
  const row: StoredEvent = {
    eventType: values.EventType!,
    userName: values.UserName!,
    computerName: values.ComputerName!,
    localIp: values.LocalIP,
    ipAddress: values.IPAddress,
    publicIp: values.PublicIP,
    timestamp: raw,
    epochMs: instant.epochMilliseconds,
    storedTimestamp,
    retry: retryValue,
    clientIp,
    requestId: 0,
  };
  return [201, { message: "Event logged successfully", status: "success" }, row];
}

/** The six fields as the database adapter sees them (null when absent), or the adapter's error. */
function columnValues(fields: Record<string, unknown>): Record<string, string | null> | string {
  const values: Record<string, string | null> = {};
  for (
    const name of ["EventType", "UserName", "ComputerName", "LocalIP", "IPAddress", "PublicIP"]
  ) {
    const value = fields[name] ?? null;
    if (value !== null && typeof value === "object") {
      return `(psycopg2.ProgrammingError) can't adapt type '${pythonType(value)}'`;
    }
    values[name] = value === null ? null : String(value);
  }
  return values;
}
