/**
 * The lines delivery writes about one event's answer (error.log, session_monitor.log and the
 * last error of status.json); docs/errors.md lists them.
 *
 * @module
 */
import type { SessionEvent } from "../event.ts";
import { describe } from "./event_answer.ts";

/** The server rejected the API key (401/403): sending pauses. */
export function keyRejected(maskedKey: string, message: string, pending: number): string {
  return `The server rejected the API key ${maskedKey} (${message}): sending is paused and ${pending} events wait; set the right key with winagentUSM.exe --api-key <key>`;
}

/**
 * "Already recorded" at an event's first sending: the server holds another event with the same
 * five fields as it stores them (times are stored as naive local times, so in the server zone's
 * autumn fall-back hour two events an hour apart collide).
 */
export function storedAlready(event: SessionEvent): string {
  return `The server answered "Event already recorded" to the first sending of ${
    describe(event)
  }: it holds an event it takes for the same (in the server's time zone, the autumn fall-back hour makes two times an hour apart alike); this one is not stored again`;
}

/** A 4xx while the health check passes: the event stays pending until another one tells. */
export function suspectAnswer(event: SessionEvent, status: number, reason: string): string {
  return `The server answered ${status} to ${
    describe(event)
  } (${reason}) while its health check passes: until the server accepts another event this may be the setup, not the event, at fault (a proxy or a wrong path prefix in server_url in front of a healthy server), so it is not refused but stays pending`;
}

/** A suspect 4xx shown to concern its event: refused for good. */
export function refusedForGood(event: SessionEvent, status: number, reason: string): string {
  return `The server refused ${
    describe(event)
  } for good (${status}): ${reason}; it stays in event_log.csv marked refused (status 3)`;
}

/** The server's rate limit was reached (429): delivery paces to it. */
export function rateLimitReached(
  lesson: { limit: number; windowMs: number; waitMs: number },
): string {
  return `The server's rate limit was reached (${lesson.limit} requests per ${
    lesson.windowMs / 1000
  } s): pacing to it; next event in ${Math.ceil(lesson.waitMs / 1000)} s`;
}

/** A stop that did not wait for the answer to `event`. */
export function stoppedUnanswered(event: SessionEvent, graceMs: number): string {
  return `Stopping without the answer to ${
    describe(event)
  } (none within ${graceMs} ms): it stays pending and is sent again at the next start`;
}
