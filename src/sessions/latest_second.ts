/**
 * Per user, the second of their latest event and the event types recorded in it: all that an
 * inferred event is checked against (it is never earlier than the user's latest event), so the
 * open-sessions view's memory follows the users, not the events.
 *
 * @module
 */
import type { EventType } from "../event.ts";

/** One bit per event type. */
const TYPE_BIT: Readonly<Record<EventType, number>> = { Logon: 1, Logoff: 2, Lock: 4, Unlock: 8 };

/** The types recorded in each user's latest second. */
export class LatestSeconds {
  #users = new Map<string, { second: number; types: number }>();

  /** Records `type` for `user` in `second`; false when it was already recorded (a copy). */
  note(user: string, type: EventType, second: number): boolean {
    const latest = this.#users.get(user);
    if (latest === undefined) this.#users.set(user, { second, types: TYPE_BIT[type] });
    else if (latest.second === second) {
      if (latest.types & TYPE_BIT[type]) return false;
      latest.types |= TYPE_BIT[type];
    } else if (second > latest.second) {
      latest.second = second;
      latest.types = TYPE_BIT[type];
    }
    return true;
  }

  /** Whether `type` is recorded for `user` in `second`. */
  has(user: string, type: EventType, second: number): boolean {
    const latest = this.#users.get(user);
    return latest?.second === second && (latest.types & TYPE_BIT[type]) !== 0;
  }
}

/** A copy of `text` that shares no memory with a larger string it was sliced from. */
export function ownString(text: string): string {
  return text.length < 13 ? text : JSON.parse(JSON.stringify(text));
}
