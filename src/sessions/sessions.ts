/**
 * The open-sessions view, and how a disconnect or a reconnect is reported.
 *
 * The server's time report pairs, per user and day, the latest start event (Logon, Unlock) with
 * the next end event (Logoff, Lock). A span it never got the start or the end of is missing from
 * the report. The view here is what the journal already holds; src/sessions/inference.ts decides
 * from it which events close such gaps at start and at shutdown.
 *
 * - **Disconnect / reconnect** ({@linkcode translateChange}): reported per the
 *   `disconnect_events` policy as Lock/Unlock (default), Logoff/Logon, or not at all.
 *
 * The view is per user, as the server's report is: event_log.csv has no session column. A user
 * is open when their latest event is Logon, Unlock or Lock (a locked user is still logged on).
 * "Latest" is by time, ties by file order: the agent never records an event for a user earlier
 * than that user's latest one, so this is also the recording order, and the copies of pending
 * rows that a rotation carries into the new live file (same five fields) count once.
 *
 * @module
 */
import { clip, COLUMN_LIMITS } from "./capture.ts";
import { type EventType, type SessionEvent, UNKNOWN_USER } from "../event.ts";
import type { ReportedChange, SessionChange } from "../platform.ts";
import { instantMs } from "./instant.ts";
import { LatestSeconds, ownString } from "./latest_second.ts";

/** How a disconnect and a reconnect are reported (config key `disconnect_events`). */
export type DisconnectPolicy = "lock" | "logoff" | "none";

/** The user name as the journal and the server hold it (trimmed, clipped, never empty). */
export function userKey(user: string): string {
  const name = user.trim() || UNKNOWN_USER; // within the column in UTF-16 units: in characters too
  return name.length <= COLUMN_LIMITS.userName && name.isWellFormed()
    ? name
    : clip(name, COLUMN_LIMITS.userName);
}

/** What the view knows of one user. */
export interface UserState {
  /** The type of the user's latest event. */
  last: EventType;
  /** Its time, epoch milliseconds. */
  at: number;
  /** Session ids seen for this user in this run (or in the snapshot at start). */
  sessions: Set<number>;
}

/** The types that start a span of the server's report. */
export const START_TYPES: ReadonlySet<EventType> = new Set(["Logon", "Unlock"]);

/** Whether a user whose latest event is `type` is logged on (Lock: logged on, locked). */
export function isOpenType(type: EventType): boolean {
  return type !== "Logoff";
}

/** The open-sessions view: per user, the latest event recorded (latest_second.ts: and copies). */
export class OpenSessions {
  #users = new Map<string, UserState>();
  /** Per user: the types recorded in the second of the latest event. */
  #latestSecond = new LatestSeconds();
  /** Incremented by every recorded event: tells a snapshot which users changed after it. */
  #generation = 0;
  #changedAt = new Map<string, number>();
  /** Users whose client went away; a reconnect reports their start again. */
  #disconnected = new Set<string>();

  /** The view of the events of a journal (archive rows first, then the live file's). */
  static fromEvents(events: Iterable<SessionEvent>): OpenSessions {
    const view = new OpenSessions();
    for (const event of events) {
      const at = instantMs(event.timestamp);
      if (at !== undefined) view.note(event.eventType, event.userName, at);
    }
    return view;
  }

  /** Records that an event of `type` for `user` at `at` (epoch ms) is in the journal. */
  note(type: EventType, user: string, at: number, session?: number): void {
    const key = userKey(user);
    const second = Math.floor(at / 1000);
    const state = this.#users.get(key);
    const sessions = state?.sessions ?? new Set<number>();
    if (session !== undefined) {
      if (type === "Logoff") sessions.delete(session);
      else sessions.add(session);
    }
    // A copy (rotation carries pending rows over), or a second session's event in the same
    // second as the first's: the sessions are kept, the event counts once.
    if (!this.#latestSecond.note(key, type, second)) return;
    this.#generation++;
    this.#changedAt.set(key, this.#generation);
    if (state && at < state.at) return; // an older event does not change what is latest
    if (START_TYPES.has(type)) this.#disconnected.delete(key);
    if (state === undefined) this.#users.set(ownString(key), { last: type, at, sessions });
    else Object.assign(state, { last: type, at }); // the state handed out follows the user
  }

  /** Records an event of an older file read after the newer (the archive): as if read first. */
  noteEarlier(type: EventType, user: string, at: number): void {
    const state = this.#users.get(userKey(user));
    if (state === undefined || at > state.at) return this.note(type, user, at);
    this.#latestSecond.note(userKey(user), type, Math.floor(at / 1000)); // never a later second
  }

  /** The state of `user` (by its journal name), if any event of theirs is known. */
  get(user: string): UserState | undefined {
    return this.#users.get(userKey(user));
  }

  /** Every user whose latest event leaves them logged on, with their state. */
  open(): [string, UserState][] {
    return [...this.#users].filter(([user, state]) =>
      user !== UNKNOWN_USER && isOpenType(state.last)
    );
  }

  /**
   * Forgets session `session` of `user` (it ended) and returns the user's other sessions known
   * in this run: while one is left, the user is still logged on.
   */
  endSession(user: string, session: number): number[] {
    const sessions = this.#users.get(userKey(user))?.sessions;
    if (!sessions) return [];
    sessions.delete(session);
    return [...sessions];
  }

  /** Marks `user` as disconnected (or not): a reconnect then reports the start again. */
  setDisconnected(user: string, disconnected: boolean): void {
    if (disconnected) this.#disconnected.add(userKey(user));
    else this.#disconnected.delete(userKey(user));
  }

  /** Whether `user`'s client went away (and a reconnect is to report the start). */
  isDisconnected(user: string): boolean {
    return this.#disconnected.has(userKey(user));
  }

  /** The users marked disconnected (written to sessions.json). */
  disconnectedUsers(): string[] {
    return [...this.#disconnected];
  }

  /** A counter that grows with every recorded event ({@linkcode changedSince}). */
  get generation(): number {
    return this.#generation;
  }

  /** Whether `user` got an event after the view was at `generation`. */
  changedSince(user: string, generation: number): boolean {
    return (this.#changedAt.get(userKey(user)) ?? 0) > generation;
  }

  /**
   * The earliest instant at or after `at` (and after the user's latest event) at which an event
   * of `type` for `user` would not repeat the five fields of one already seen.
   */
  freeInstant(type: EventType, user: string, at: number): number {
    const key = userKey(user);
    const latest = this.#users.get(key)?.at;
    let ms = latest !== undefined && at < latest ? latest : at;
    while (this.#latestSecond.has(key, type, Math.floor(ms / 1000))) {
      ms = (Math.floor(ms / 1000) + 1) * 1000;
    }
    return ms;
  }
}

/** The settings that decide what is inferred (config keys, see config/keys.ts). */
export interface InferenceSettings {
  /** `logon_at_start`: a Logon for present sessions whose logon is not recorded. */
  logonAtStart: boolean;
  /** `logoff_after_unclean_stop`: a Logoff for sessions gone while the agent was not running. */
  logoffAfterUncleanStop: boolean;
  /** `logoff_at_shutdown`. */
  logoffAtShutdown: boolean;
  /** `disconnect_events`. */
  disconnectEvents: DisconnectPolicy;
}

/**
 * The change to record for `incoming`, or undefined when nothing is recorded: the four real
 * types pass unchanged, except a logoff of a user who still has another session known in this
 * run (the report is per user: they are still logged on; the last session's logoff records it); a disconnect or reconnect is reported per `policy` and only when it
 * changes what the report counts (a disconnect of a user who is not working, a reconnect of a
 * user who did not go away, or any of them for an unknown user, records nothing).
 */
export function translateChange(
  view: OpenSessions,
  incoming: SessionChange,
  options: { policy: DisconnectPolicy },
): ReportedChange | undefined {
  const { policy } = options;
  if (incoming.type === "logoff" && view.endSession(incoming.user, incoming.session).length) {
    return undefined; // the user is still logged on in another session
  }
  if (incoming.type !== "disconnect" && incoming.type !== "reconnect") {
    if (incoming.type === "logoff") view.setDisconnected(incoming.user, false);
    return incoming as ReportedChange;
  }
  if (policy === "none" || incoming.user.trim() === "") return undefined;
  const state = view.get(incoming.user);
  if (incoming.type === "disconnect") {
    if (!state || !START_TYPES.has(state.last)) return undefined; // not working: nothing ends
    view.setDisconnected(incoming.user, true);
    return { ...incoming, type: policy === "lock" ? "lock" : "logoff" };
  }
  if (!view.isDisconnected(incoming.user)) return undefined;
  view.setDisconnected(incoming.user, false);
  if (state && START_TYPES.has(state.last)) return undefined; // already working
  return { ...incoming, type: state?.last === "Lock" ? "unlock" : "logon" };
}
