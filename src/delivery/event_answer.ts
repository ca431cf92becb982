/**
 * One event as the server's `POST /api/log_event` takes it (the JSON body) and what the
 * server's answer to it means for delivery ({@link classify}).
 *
 * @module
 */
import type { PendingEntry } from "./types.ts";
import { eventKey, type SessionEvent } from "../event.ts";
import { answerText, confirmsStored, describeForeign, readAnswer } from "./server_answer.ts";
import type { HttpResponse } from "../net/transport.ts";

/** An event in a log line: "Logon of josh at 2025-04-27T08:06:14+01:00". */
export function describe(event: SessionEvent): string {
  return `${event.eventType} of ${event.userName} at ${event.timestamp}`;
}

/** An entry's identity for holds and attempts: its journal number, else its values. */
export function keyOf(entry: PendingEntry): string {
  return entry.seq !== undefined ? `#${entry.seq}` : eventKey(entry.event);
}

/**
 * The JSON body the server expects for one event (docs/server-contract.md, "The event body"). `LocalIP` and `IPAddress`
 * carry the same captured address (current and older servers); `PublicIP` only when known.
 */
export function eventBody(
  event: SessionEvent,
  options: { retry: boolean; publicIp?: string },
): string {
  const body: Record<string, string | number> = {
    EventType: event.eventType,
    UserName: event.userName,
    ComputerName: event.computerName,
    LocalIP: event.ipAddress,
    IPAddress: event.ipAddress,
  };
  if (options.publicIp) body.PublicIP = options.publicIp;
  body.Timestamp = event.timestamp;
  body.retry = options.retry ? 1 : 0;
  return JSON.stringify(body);
}

/** What an answer of the server means for delivery. */
export type Outcome =
  /** 201, or 200 "already recorded", with "status":"success": the server has the event. */
  | { kind: "sent"; duplicate: boolean }
  /** 401 or 403: the API key is refused; pause, keep the event pending. */
  | { kind: "unauthorized"; message: string }
  /** 429: wait before the next request (see src/delivery/rate_limit.ts). */
  | { kind: "rate-limited" }
  /** 5xx, 408, other codes: this event may go later, on its own backoff. */
  | { kind: "retryable"; reason: string }
  /**
   * Not the event endpoint of the expected server: 404/405, a 3xx, or a 2xx that does not say
   * the event was stored (an HTML page, `"status":"error"`). Pause, keep the event pending.
   */
  | { kind: "misconfigured"; status: number; reason: string }
  /** Any other 4xx: refused, for good only if it concerns this event (see Delivery). */
  | { kind: "rejected"; status: number; reason: string };

/** Classifies one answer of the server to `POST /api/log_event`. */
export function classify(response: HttpResponse): Outcome {
  const answer = readAnswer(response);
  const status = answer.httpStatus;
  switch (answer.kind) {
    case "success": {
      const { stored, duplicate } = confirmsStored(answer);
      if (stored) return { kind: "sent", duplicate };
      return {
        kind: "misconfigured",
        status,
        reason: `answered ${status} with ${
          describeForeign(answer)
        }, not the server's "status":"success": the answer does not come from the expected server (a captive portal, a proxy or another web server at server_url?)`,
      };
    }
    case "redirect":
      return {
        kind: "misconfigured",
        status,
        reason: answer.location
          ? `answered ${status}, a redirect to ${answer.location}: the agent does not follow redirects (the API key would go along); set server_url to the server's own address (winagentUSM.exe --url ${
            originOf(answer.location)
          })`
          : `answered ${status}, a redirect without a Location: set server_url to the server's own address`,
      };
    case "unauthorized":
      return { kind: "unauthorized", message: answerText(answer) };
    case "rate-limited":
      return { kind: "rate-limited" };
    case "wrong-url":
      return {
        kind: "misconfigured",
        status,
        reason: `answered ${status} (${
          answerText(answer)
        }): this is not the event endpoint; check server_url`,
      };
    case "refused":
      return { kind: "rejected", status, reason: answerText(answer) };
    case "retryable":
      return { kind: "retryable", reason: `the server answered ${status}: ${answerText(answer)}` };
  }
}

/** The origin of a Location value (absolute or not), for the --url hint. */
function originOf(location: string): string {
  try {
    return new URL(location).origin;
  } catch {
    return "<the server's https address>";
  }
}
