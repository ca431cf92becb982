/**
 * What systemd-logind's session objects mean to the agent: which sessions are users' (their
 * `Class`), the number a session id becomes, the sessions present at start (`ListSessions` and
 * each session's properties), and the change each logind signal makes (`SessionNew`: Logon,
 * `SessionRemoved`: Logoff, a `LockedHint` property change: Lock or Unlock). Pure: the bus talk
 * is in logind_bus.ts.
 *
 * @module
 */
import type { PresentSession, SessionChange } from "../platform.ts";

/** The properties of org.freedesktop.login1.Session the agent reads. */
export interface LogindSession {
  /** The session id ("3", "c2"). */
  id: string;
  /** Its object path (logind escapes the id in it: "/org/freedesktop/login1/session/_33"). */
  path: string;
  /** The user name as the system resolves it (a directory user: "alice@corp.example"). */
  name: string;
  /** "user", "greeter", "lock-screen", "background", "manager"... */
  class: string;
  /** "tty", "x11", "wayland", "mir", "unspecified". */
  type: string;
  /** Logged on from another machine (SSH, a remote display). */
  remote: boolean;
  /** "online", "active" or "closing" (logged out, processes left). */
  state: string;
  /** The lock state, where the session's locker reports it. */
  lockedHint: boolean;
  /** When the session began, microseconds since the epoch (0: unknown). */
  timestampUs: bigint;
}

/** The session classes of a person's logon; greeters, lock screens and services are not. */
const USER_CLASSES: ReadonlySet<string> = new Set(["user", "user-early", "user-incomplete"]);

/** Whether `session` is a person's logon that the agent reports. */
export function isUserSession(session: Pick<LogindSession, "class" | "name">): boolean {
  return USER_CLASSES.has(session.class) && session.name.trim() !== "";
}

/** Session ids without an audit id ("c1", "c2") are numbered from here, after every audit id. */
export const NON_AUDIT_BASE = 2 ** 32;

/**
 * The number the core knows a session by: the id itself for an audit session id ("3"), and
 * {@link NON_AUDIT_BASE} plus the number for one logind made up ("c3"). Another form (not
 * produced by logind today) gets a stable hash above those.
 */
export function sessionNumber(id: string): number {
  if (/^\d{1,10}$/.test(id)) return Number(id);
  const made = /^c(\d{1,10})$/.exec(id);
  if (made) return NON_AUDIT_BASE + Number(made[1]);
  let hash = 0x811c9dc5; // FNV-1a
  for (const byte of new TextEncoder().encode(id)) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return 2 * NON_AUDIT_BASE + hash;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/**
 * A session from its id, path and the `GetAll` of org.freedesktop.login1.Session. Throws a
 * TypeError naming the property when `Name` or `Class` is missing or not a string.
 */
export function sessionFromProperties(
  id: string,
  path: string,
  properties: Record<string, unknown>,
): LogindSession {
  for (const required of ["Name", "Class"]) {
    if (typeof properties[required] !== "string") {
      throw new TypeError(`logind session ${id} has no ${required} property`);
    }
  }
  const timestamp = properties.Timestamp;
  return {
    id,
    path,
    name: text(properties.Name),
    class: text(properties.Class),
    type: text(properties.Type),
    remote: properties.Remote === true,
    state: text(properties.State),
    lockedHint: properties.LockedHint === true,
    timestampUs: typeof timestamp === "bigint" ? timestamp : 0n,
  };
}

/** How the agent's log names a session: "session 3 (x11, local)". */
export function describeSession(session: LogindSession): string {
  return `session ${session.id} (${session.type || "unspecified"}, ${
    session.remote ? "remote" : "local"
  })`;
}

/**
 * The user sessions logind knows, by object path: turns its snapshot and signals into the
 * core's session changes. A session it does not report (a greeter) is not kept, so its removal
 * and lock changes record nothing either.
 */
export class LogindSessions {
  #sessions = new Map<string, LogindSession>();

  /** The user sessions of a snapshot (closing ones are logged out), remembered for later. */
  present(sessions: readonly LogindSession[]): PresentSession[] {
    const present: PresentSession[] = [];
    for (const session of sessions) {
      if (!isUserSession(session) || session.state === "closing") continue;
      this.#sessions.set(session.path, { ...session });
      const entry: PresentSession = {
        session: sessionNumber(session.id),
        user: session.name.trim(),
        state: "active",
      };
      if (session.timestampUs > 0n) {
        entry.logonAt = Temporal.Instant.fromEpochMilliseconds(
          Number(session.timestampUs / 1000n),
        );
      }
      if (session.lockedHint) entry.locked = true;
      if (session.remote) entry.remote = true;
      present.push(entry);
    }
    return present;
  }

  /** `SessionNew`: a Logon for a user session (undefined for another class, or one known). */
  added(session: LogindSession, at: Temporal.Instant): SessionChange | undefined {
    if (!isUserSession(session) || this.#sessions.has(session.path)) return undefined;
    this.#sessions.set(session.path, { ...session });
    return this.#change("logon", session, at);
  }

  /** `SessionRemoved`: a Logoff for a user session known (by `SessionNew` or the snapshot). */
  removed(path: string, at: Temporal.Instant): SessionChange | undefined {
    const session = this.#sessions.get(path);
    if (!session) return undefined;
    this.#sessions.delete(path);
    return this.#change("logoff", session, at);
  }

  /**
   * `PropertiesChanged` of a session: a Lock or Unlock when `LockedHint` changed from what is
   * known; other properties record nothing.
   */
  changed(
    path: string,
    properties: Record<string, unknown>,
    at: Temporal.Instant,
  ): SessionChange | undefined {
    const session = this.#sessions.get(path);
    const locked = properties.LockedHint;
    if (!session || typeof locked !== "boolean" || locked === session.lockedHint) return undefined;
    session.lockedHint = locked;
    return this.#change(locked ? "lock" : "unlock", session, at);
  }

  /** The session known at `path`. */
  get(path: string): LogindSession | undefined {
    return this.#sessions.get(path);
  }

  #change(
    type: SessionChange["type"],
    session: LogindSession,
    at: Temporal.Instant,
  ): SessionChange {
    return { type, user: session.name.trim(), session: sessionNumber(session.id), at };
  }
}
