/**
 * The events the agent records that no notification produced, planned from the open-sessions
 * view (src/sessions/sessions.ts):
 *
 * - **At start** ({@linkcode planAtStart}), from the platform's snapshot of the sessions present:
 *   a user with a session whose logon is not in the journal gets a Logon at the session's true
 *   logon time (learnt late); a user open in the journal whose sessions are all gone gets a
 *   Logoff at the time the agent last knew the session alive (sessions.json), "inferred".
 * - **At shutdown** ({@linkcode planAtShutdown}): every user still open gets a Logoff at the
 *   shutdown time.
 *
 * Rules that keep an event from being sent twice: an inferred event is never earlier than the
 * user's latest event, and never has the five fields of an event already recorded (its time
 * moves on by a second until it does not); a user already open gets no Logon at start.
 *
 * @module
 */
import type { EventType } from "../event.ts";
import type { PresentSession, ReportedChange } from "../platform.ts";
import {
  type InferenceSettings,
  isOpenType,
  type OpenSessions,
  START_TYPES,
  userKey,
  type UserState,
} from "./sessions.ts";

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
  options: StartPlanOptions,
): InferredChange[] {
  const ended = endedUnseen(view, user, sessions, options);
  const planned = planPresentSessions(view, user, sessions, options);
  return ended ? [ended, ...planned] : planned;
}

/**
 * The inferred Logoff of a user open in the journal whose present sessions all began after the
 * agent last knew the user's session alive (sessions.json): that session ended while the agent
 * was not running (a power loss), and the user signed in again before it started.
 */
function endedUnseen(
  view: OpenSessions,
  user: string,
  sessions: PresentSession[],
  { settings, alive, now }: StartPlanOptions,
): InferredChange | undefined {
  const state = view.get(user);
  if (!alive || !state || !isOpenType(state.last) || !settings.logoffAfterUncleanStop) return;
  const lastKnown = Math.max(alive.aliveAt, state.at);
  const renewed = sessions.every(({ logonAt }) =>
    logonAt !== undefined && logonAt.epochMilliseconds > lastKnown &&
    logonAt.epochMilliseconds <= now
  );
  if (!renewed) return;
  return planGoneUser(
    view,
    user,
    state,
    alive,
    "every session of the user present at start began after the agent last knew it alive",
  );
}

/** {@link planPresentUser} once a session that ended unseen is closed. */
function planPresentSessions(
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
  why = "no longer exists at start",
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
    `inferred: the session was open in event_log.csv but ${why}; time: ${source}`,
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
