/**
 * The open-sessions view and the events the agent records that no notification produced.
 *
 * The server's time report pairs, per user and day, the latest start event (Logon, Unlock) with
 * the next end event (Logoff, Lock). A span it never got the start or the end of is missing from
 * the report. This module decides, from what the journal already holds, which events close such
 * gaps, and with which time:
 *
 * - **At start** ({@linkcode planAtStart}), from the platform's snapshot of the sessions present:
 *   a user with a session whose logon is not in the journal gets a Logon at the session's true
 *   logon time (learnt late); a user open in the journal whose sessions are all gone gets a
 *   Logoff at the time the agent last knew the session alive (sessions.json), "inferred".
 * - **At shutdown** ({@linkcode planAtShutdown}): every user still open gets a Logoff at the
 *   shutdown time.
 * - **Disconnect / reconnect** ({@linkcode translateChange}): reported per the
 *   `disconnect_events` policy as Lock/Unlock (default), Logoff/Logon, or not at all.
 *
 * The view is per user, as the server's report is: event_log.csv has no session column. A user
 * is open when their latest event is Logon, Unlock or Lock (a locked user is still logged on).
 * "Latest" is by time, ties by file order: the agent never records an event for a user earlier
 * than that user's latest one, so this is also the recording order, and the copies of pending
 * rows that a rotation carries into the new live file (same five fields) count once.
 *
 * Rules that keep an event from being sent twice: an inferred event is never earlier than the
 * user's latest event, and never has the five fields of an event already recorded (its time
 * moves on by a second until it does not); a user already open gets no Logon at start, so a
 * restart or upgrade adds nothing.
 *
 * @module
 */
import { clip, COLUMN_LIMITS } from "./capture.ts";
import { type EventType, type SessionEvent, UNKNOWN_USER } from "../event.ts";
import type { PresentSession, ReportedChange, SessionChange } from "../platform.ts";

/** How a disconnect and a reconnect are reported (config key `disconnect_events`). */
export type DisconnectPolicy = "lock" | "logoff" | "none";

/** The user name as the journal and the server hold it (trimmed, clipped, never empty). */
export function userKey(user: string): string {
  return clip(user.trim() || UNKNOWN_USER, COLUMN_LIMITS.userName);
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

const START_TYPES: ReadonlySet<EventType> = new Set(["Logon", "Unlock"]);

/** Whether a user whose latest event is `type` is logged on (Lock: logged on, locked). */
export function isOpenType(type: EventType): boolean {
  return type !== "Logoff";
}

/** The open-sessions view: per user, the latest event recorded. */
export class OpenSessions {
  #users = new Map<string, UserState>();
  /** "type user second" of every event seen, so that an inferred event is never a copy. */
  #keys = new Set<string>();
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
      if (at === undefined) continue;
      view.note(event.eventType, event.userName, at);
    }
    return view;
  }

  /** Records that an event of `type` for `user` at `at` (epoch ms) is in the journal. */
  note(type: EventType, user: string, at: number, session?: number): void {
    const key = userKey(user);
    const second = Math.floor(at / 1000);
    const eventKey = `${type} ${key} ${second}`;
    const state = this.#users.get(key);
    const sessions = state?.sessions ?? new Set<number>();
    if (session !== undefined) {
      if (type === "Logoff") sessions.delete(session);
      else sessions.add(session);
    }
    // A copy (rotation carries pending rows over), or a second session's event in the same
    // second as the first's: the sessions are kept, the event counts once.
    if (this.#keys.has(eventKey)) return;
    this.#keys.add(eventKey);
    this.#generation++;
    this.#changedAt.set(key, this.#generation);
    if (state && at < state.at) return; // an older event does not change what is latest
    if (START_TYPES.has(type)) this.#disconnected.delete(key);
    this.#users.set(key, { last: type, at, sessions });
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
    while (this.#keys.has(`${type} ${key} ${Math.floor(ms / 1000)}`)) {
      ms = (Math.floor(ms / 1000) + 1) * 1000;
    }
    return ms;
  }
}

/** Epoch milliseconds of an RFC 3339 timestamp, or undefined when it is not one. */
export function instantMs(timestamp: string): number | undefined {
  try {
    return Temporal.Instant.from(timestamp).epochMilliseconds;
  } catch {
    return undefined;
  }
}

/** A change the agent records that no notification produced, and why (for the log). */
export interface InferredChange {
  change: ReportedChange;
  /** Says why and from what, e.g. "inferred: no longer present at start; last known alive ...". */
  reason: string;
}

/** What the agent last knew alive (sessions.json), see src/sessions/alive.ts. */
export interface AliveFacts {
  /** When the agent last knew every session open in its view alive, epoch ms. */
  aliveAt: number;
  /** Users that were disconnected then. */
  disconnected: string[];
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

function toInstant(ms: number): Temporal.Instant {
  return Temporal.Instant.fromEpochMilliseconds(ms);
}

function iso(ms: number): string {
  return toInstant(ms).round({ smallestUnit: "second", roundingMode: "trunc" }).toString();
}

function change(
  type: ReportedChange["type"],
  user: string,
  session: number,
  at: number,
  domain?: string,
): ReportedChange {
  const result: ReportedChange = { type, user, session, at: toInstant(at) };
  if (domain) result.domain = domain;
  return result;
}

/** The sessions of one user in a snapshot, the active one first. */
function byUser(present: readonly PresentSession[]): Map<string, PresentSession[]> {
  const users = new Map<string, PresentSession[]>();
  for (const session of present) {
    if (session.user.trim() === "") continue;
    const key = userKey(session.user);
    const list = users.get(key) ?? [];
    list.push(session);
    users.set(key, list);
  }
  for (const list of users.values()) {
    list.sort((a, b) => Number(a.state !== "active") - Number(b.state !== "active"));
  }
  return users;
}

/** Options of {@linkcode planAtStart}. */
export interface StartPlanOptions {
  settings: InferenceSettings;
  /** sessions.json as the previous run left it; undefined when there is none. */
  alive?: AliveFacts;
  /** Now (the snapshot's time), epoch ms. */
  now: number;
  /** The view's generation when the snapshot was asked for: users changed since are left alone. */
  since?: number;
}

/**
 * The events to record at start, given the sessions present (`present`, the platform's
 * snapshot): a Logon (and a Lock, where the platform reports the session locked) for each user
 * present whose logon the journal lacks, and an inferred Logoff for each user open in the journal
 * who is no longer present. Users the view got a real event for after the snapshot was asked for
 * are left alone. Also marks disconnected users so a later reconnect is reported.
 */
export function planAtStart(
  view: OpenSessions,
  present: readonly PresentSession[],
  options: StartPlanOptions,
): InferredChange[] {
  const since = options.since ?? view.generation;
  const planned: InferredChange[] = [];
  const users = byUser(present);
  for (const [user, sessions] of users) {
    if (view.changedSince(user, since)) continue;
    planned.push(...planPresentUser(view, user, sessions, options));
  }
  if (options.settings.logoffAfterUncleanStop) {
    for (const [user, state] of view.open()) {
      if (users.has(user) || view.changedSince(user, since)) continue;
      planned.push(planGoneUser(view, user, state, options.alive));
    }
  }
  return planned;
}

/** Records `type` for the user of `session` at `at` in the view and returns it with `reason`. */
function inferred(
  view: OpenSessions,
  type: ReportedChange["type"],
  session: PresentSession,
  at: number,
  reason: string,
): InferredChange {
  const eventType = (type[0].toUpperCase() + type.slice(1)) as EventType;
  view.note(eventType, session.user, at, session.session);
  return { change: change(type, session.user, session.session, at, session.domain), reason };
}

/** The events for one user present at start (`sessions`, the active one first). */
function planPresentUser(
  view: OpenSessions,
  user: string,
  sessions: PresentSession[],
  { settings, alive, now }: StartPlanOptions,
): InferredChange[] {
  const first = sessions[0];
  const state = view.get(user);
  for (const s of sessions) state?.sessions.add(s.session);
  if (first.state !== "active" && settings.disconnectEvents !== "none") {
    // Present but disconnected: not working now; a reconnect reports the start.
    view.setDisconnected(user, true);
    if (!state || !START_TYPES.has(state.last)) return [];
    // Working when the agent last saw it: the disconnect happened while it was not running.
    const type = settings.disconnectEvents === "lock" ? "lock" : "logoff";
    const lastKnown = alive ? Math.max(alive.aliveAt, state.at) : state.at;
    const at = view.freeInstant(type === "lock" ? "Lock" : "Logoff", user, lastKnown);
    const planned = inferred(
      view,
      type,
      first,
      at,
      `inferred: session ${first.session} was disconnected at start (disconnect_events = ${settings.disconnectEvents}); time: the last time the agent knew it connected`,
    );
    view.setDisconnected(user, true);
    return [planned];
  }
  if (state?.last === "Lock" && (first.locked === false || view.isDisconnected(user))) {
    // Locked or disconnected when last seen, working now: the unlock or reconnect was missed.
    const connected = first.connectedAt?.epochMilliseconds;
    const time = connected !== undefined && connected > state.at && connected <= now
      ? connected
      : now;
    const at = view.freeInstant("Unlock", user, time);
    return [inferred(
      view,
      "unlock",
      first,
      at,
      `learnt late: session ${first.session} was locked or disconnected when last seen and is in use at start; time: ${
        time === now ? "the start" : "the time the session was last connected"
      }`,
    )];
  }
  if (state && isOpenType(state.last)) return []; // already recorded: a restart adds nothing
  if (!settings.logonAtStart) return [];
  const latest = state?.at ?? -Infinity;
  const known = [first.logonAt, first.connectedAt]
    .map((t) => t?.epochMilliseconds)
    .find((t): t is number => t !== undefined && t > latest && t <= now);
  const from = known === undefined
    ? "its logon time is not known or not later than the user's last recorded event"
    : known === first.logonAt?.epochMilliseconds
    ? "the session's logon time"
    : "the time the session was last connected";
  const at = view.freeInstant("Logon", user, known ?? now);
  const planned = [inferred(
    view,
    "logon",
    first,
    at,
    `learnt late: session ${first.session} was present when the agent started; time: ${from}`,
  )];
  if (first.locked === true) {
    const lockAt = view.freeInstant("Lock", user, Math.max(now, at));
    planned.push(inferred(
      view,
      "lock",
      first,
      lockAt,
      "learnt late: the session was locked when the agent started (time: the start)",
    ));
  }
  return planned;
}

/** The inferred Logoff of a user open in the journal who has no session at start. */
function planGoneUser(
  view: OpenSessions,
  user: string,
  state: UserState,
  alive: AliveFacts | undefined,
): InferredChange {
  const lastKnown = alive ? Math.max(alive.aliveAt, state.at) : state.at;
  const at = view.freeInstant("Logoff", user, lastKnown);
  const source = alive && alive.aliveAt >= state.at
    ? `the agent last knew it alive at ${iso(alive.aliveAt)} (sessions.json)`
    : alive
    ? `the user's last recorded event (${state.last} at ${
      iso(state.at)
    }) is later than sessions.json (${iso(alive.aliveAt)})`
    : `no sessions.json: the user's last recorded event (${state.last} at ${iso(state.at)})`;
  const session = state.sessions.values().next().value ?? 0;
  return inferred(
    view,
    "logoff",
    { user, session, state: "active" },
    at,
    `inferred: the session was open in event_log.csv but no longer exists at start; time: ${source}`,
  );
}

/**
 * The Logoffs to record at shutdown: one at `now` for every user still logged on (Windows logs
 * every user off as it shuts down; the notification may never reach the service).
 */
export function planAtShutdown(
  view: OpenSessions,
  options: { now: number; settings: Pick<InferenceSettings, "logoffAtShutdown"> },
): InferredChange[] {
  const { now, settings } = options;
  if (!settings.logoffAtShutdown) return [];
  return view.open().map(([user, state]) => {
    const at = view.freeInstant("Logoff", user, now);
    view.note("Logoff", user, at);
    const session = state.sessions.values().next().value ?? 0;
    return {
      change: change("logoff", user, session, at),
      reason: "the machine is shutting down (Windows logs every user off)",
    };
  });
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
