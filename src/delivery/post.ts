/**
 * One request of delivery: an event posted to the server's event endpoint with the API key,
 * the answer and its timing; and what a request that got no answer means.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { learnSecret } from "../log/redact.ts";
import { TransportError } from "../net/transport_error.ts";
import { errorText } from "../text.ts";
import { eventBody } from "./event_answer.ts";
import type { DeliveryFailure, DeliveryOptions, Exchange, PendingEntry } from "./types.ts";

/**
 * Posts `entry`'s event to `path` and returns the exchange; `sending` is called once the request
 * is built, right before it goes.
 *
 * @throws {TransportError} When no answer came (and any error building the request).
 */
export async function postEvent(
  options: Pick<DeliveryOptions, "apiKey" | "transport" | "publicIp">,
  request: {
    path: string;
    entry: PendingEntry;
    firstAttempt: boolean;
    retry: boolean;
    clock: Clock;
    sending: () => void;
  },
): Promise<Exchange> {
  const { path, entry, firstAttempt, retry, clock } = request;
  const sentAt = clock.monotonic();
  learnSecret(options.apiKey());
  const transport = options.transport();
  const body = eventBody(entry.event, { retry, publicIp: options.publicIp?.() });
  request.sending();
  const apiKey = options.apiKey();
  const response = await transport.post(path, body, {
    "X-API-Key": apiKey,
    "Content-Type": "application/json",
  });
  const timing = { sentAt, receivedAt: clock.monotonic(), wallNow: clock.wallNow() };
  const url = transport.urlOf(path);
  return { entry, firstAttempt, url, setup: `${url} ${apiKey}`, response, timing };
}

/**
 * What a request without an answer means: whether it never left (the rate window is not
 * anchored on it), the reason to log, the kind of failure, and whether no connection could be
 * made at all (an outage, retried often since such an attempt costs nothing).
 */
export function sendFailure(
  error: unknown,
): { unsent: boolean; reason: string; why: DeliveryFailure; outage: boolean } {
  if (!(error instanceof TransportError)) {
    return {
      unsent: false,
      reason: `cannot send to the server: ${errorText(error)}`,
      why: "network",
      outage: false,
    };
  }
  return {
    unsent: !error.requestSent,
    reason: error.message,
    why: error.code,
    outage: error.stage === "connect",
  };
}
