/**
 * The pure part of the Windows session source: which WTS session-change codes the agent reports,
 * and the per-session memory of users (a logoff often arrives after the name is gone).
 *
 * @module
 */
import type { SessionChange, SessionChangeType } from "../platform.ts";

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

const REPORTED: Readonly<Record<number, SessionChangeType>> = {
  [WTS_CODES.WTS_SESSION_LOGON]: "logon",
  [WTS_CODES.WTS_SESSION_LOGOFF]: "logoff",
  [WTS_CODES.WTS_SESSION_LOCK]: "lock",
  [WTS_CODES.WTS_SESSION_UNLOCK]: "unlock",
};

/** The session change a WTS code stands for, or undefined for codes the agent ignores. */
export function sessionChangeType(wtsCode: number): SessionChangeType | undefined {
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
    return change;
  }
}
