/**
 * The pure part of the Windows session source: which WTS session-change codes the agent reports,
 * and the per-session memory of users (a logoff often arrives after the name is gone).
 *
 * @module
 */
import type { WtsSessionDetails } from "../../../ffi/wts_structs.ts";
import type {
  ConnectionChangeType,
  PresentSession,
  SessionChange,
  SessionChangeType,
} from "../../platform.ts";

/** dwEventType values of SERVICE_CONTROL_SESSIONCHANGE (WtsApi32.h). */
export const WTS_CODES = {
  WTS_CONSOLE_CONNECT: 1,
  WTS_CONSOLE_DISCONNECT: 2,
  WTS_REMOTE_CONNECT: 3,
  WTS_REMOTE_DISCONNECT: 4,
  WTS_SESSION_LOGON: 5,
  WTS_SESSION_LOGOFF: 6,
  WTS_SESSION_LOCK: 7,
  WTS_SESSION_UNLOCK: 8,
  WTS_SESSION_REMOTE_CONTROL: 9,
  WTS_SESSION_CREATE: 10,
  WTS_SESSION_TERMINATE: 11,
} as const;

/**
 * The codes the agent reports. A console or remote connect and disconnect (codes 1 to 4: a
 * Remote Desktop client closed or back, fast user switching away from or back to a session)
 * become the core's "disconnect" and "reconnect", which it reports per `disconnect_events`.
 */
const REPORTED: Readonly<Record<number, SessionChangeType | ConnectionChangeType>> = {
  [WTS_CODES.WTS_CONSOLE_CONNECT]: "reconnect",
  [WTS_CODES.WTS_CONSOLE_DISCONNECT]: "disconnect",
  [WTS_CODES.WTS_REMOTE_CONNECT]: "reconnect",
  [WTS_CODES.WTS_REMOTE_DISCONNECT]: "disconnect",
  [WTS_CODES.WTS_SESSION_LOGON]: "logon",
  [WTS_CODES.WTS_SESSION_LOGOFF]: "logoff",
  [WTS_CODES.WTS_SESSION_LOCK]: "lock",
  [WTS_CODES.WTS_SESSION_UNLOCK]: "unlock",
};

/** The session change a WTS code stands for, or undefined for codes the agent ignores. */
export function sessionChangeType(
  wtsCode: number,
): SessionChangeType | ConnectionChangeType | undefined {
  return REPORTED[wtsCode];
}

/** The name of a WTS code for log lines, e.g. "WTS_REMOTE_CONNECT" or "code 42". */
export function wtsCodeName(wtsCode: number): string {
  const entry = Object.entries(WTS_CODES).find(([, code]) => code === wtsCode);
  return entry ? entry[0] : `code ${wtsCode}`;
}

/** The services' session: never a user's, never reported. */
export const SERVICES_SESSION = 0;

/** A session's user as the system reported it. */
export interface SessionUser {
  user: string;
  domain: string;
}

/** Looks up the current user of a session; undefined when it cannot be resolved. */
export type UserLookup = (session: number) => SessionUser | undefined;

/** Names that are never a session's user (some agents fall back to them: a bug). */
const NOT_A_USER = new Set(["system", "local system", "localsystem"]);

function clean(found: SessionUser | undefined): SessionUser | undefined {
  if (!found) return undefined;
  const user = found.user.trim();
  if (user === "" || NOT_A_USER.has(user.toLowerCase())) return undefined;
  return { user, domain: found.domain.trim() };
}

/**
 * Remembers the user of each session id, learnt at logon, lock, unlock and from the start-up
 * enumeration, so that a logoff (when the system no longer knows the name) is still attributed.
 */
export class SessionMemory {
  #users = new Map<number, SessionUser>();
  #lookup: UserLookup;

  constructor(lookup: UserLookup) {
    this.#lookup = lookup;
  }

  /** Remembers the current user of `session` (start-up enumeration); returns it if found. */
  learn(session: number): SessionUser | undefined {
    if (session === SERVICES_SESSION) return undefined;
    const found = clean(this.#lookup(session));
    if (found) this.#users.set(session, found);
    return found;
  }

  /** Remembers `user` as the user of `session` (the start-up enumeration's reading). */
  remember(session: number, user: SessionUser): void {
    if (session === SERVICES_SESSION) return;
    const found = clean(user);
    if (found) this.#users.set(session, found);
  }

  /** The remembered user of `session`. */
  remembered(session: number): SessionUser | undefined {
    return this.#users.get(session);
  }

  /** The number of sessions remembered. */
  get size(): number {
    return this.#users.size;
  }

  /**
   * Turns a SERVICE_CONTROL_SESSIONCHANGE into the change to report, or undefined for codes
   * that are not reported and for session 0. The user comes from the system when it knows it,
   * else from memory, else "" (the core records its "(unknown)" marker). A logoff prefers the
   * remembered name and forgets the session.
   */
  resolve(wtsCode: number, session: number, at: Temporal.Instant): SessionChange | undefined {
    const type = sessionChangeType(wtsCode);
    if (type === undefined || session === SERVICES_SESSION) return undefined;
    let found: SessionUser | undefined;
    if (type === "logoff") {
      found = this.#users.get(session) ?? clean(this.#lookup(session));
      this.#users.delete(session);
    } else {
      found = this.learn(session) ?? this.#users.get(session);
    }
    const change: SessionChange = { type, user: found?.user ?? "", session, at };
    if (found?.domain) change.domain = found.domain;
    if (wtsCode === WTS_CODES.WTS_REMOTE_CONNECT || wtsCode === WTS_CODES.WTS_REMOTE_DISCONNECT) {
      change.remote = true;
    }
    return change;
  }
}

/** WTS_CONNECTSTATE_CLASS values the snapshot reads. */
export const WTS_STATE = { WTSActive: 0, WTSConnected: 1, WTSDisconnected: 4 } as const;

/**
 * One session as WTSQuerySessionInformationW(WTSSessionInfoEx or WTSSessionInfo) describes it
 * (the codec's record; the snapshot does not use the disconnect time).
 */
export type SessionDetails = Omit<WtsSessionDetails, "disconnectTime">;

/**
 * The core's view of one enumerated session, or undefined for a session that is not a user's
 * (session 0, the logon screen, a listener) or is neither active nor disconnected. The lock
 * state is given only where Windows reports it (SessionFlags WTS_SESSIONSTATE_LOCK 0 or
 * WTS_SESSIONSTATE_UNLOCK 1).
 */
export function presentSessionFrom(details: SessionDetails): PresentSession | undefined {
  const user = details.userName.trim();
  if (details.sessionId === SERVICES_SESSION || user === "") return undefined;
  if (NOT_A_USER.has(user.toLowerCase())) return undefined;
  const state = details.state === WTS_STATE.WTSActive
    ? "active"
    : details.state === WTS_STATE.WTSDisconnected
    ? "disconnected"
    : undefined;
  if (state === undefined) return undefined;
  const present: PresentSession = { session: details.sessionId, user, state };
  const domain = details.domainName.trim();
  if (domain) present.domain = domain;
  if (details.logonTime > 0) {
    present.logonAt = Temporal.Instant.fromEpochMilliseconds(details.logonTime);
  }
  if (details.connectTime > 0) {
    present.connectedAt = Temporal.Instant.fromEpochMilliseconds(details.connectTime);
  }
  if (details.flags === 0 || details.flags === 1) present.locked = details.flags === 0;
  if (/^rdp-/i.test(details.winStationName)) present.remote = true;
  return present;
}
