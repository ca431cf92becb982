/**
 * Session facts from Terminal Services (wtsapi32) and the Terminal Services ready event. Windows
 * only: every function here calls into the system.
 *
 * @module
 */
import { unwrap } from "../../../ffi/error.ts";
import {
  kernel32,
  SYNCHRONIZE,
  WAIT_FAILED,
  WAIT_OBJECT_0,
  WAIT_TIMEOUT,
} from "../../../ffi/kernel32.ts";
import { decodeSessionInfos, WTS_SESSION_INFO_SIZE } from "../../../ffi/structs.ts";
import { readWide, wide } from "../../../ffi/wide.ts";
import {
  decodeWtsInfo,
  decodeWtsInfoEx,
  WTSINFO_SIZE,
  WTSINFOEX_SIZE,
} from "../../../ffi/wts_structs.ts";
import {
  wtsapi32,
  WTSDomainName,
  WTSSessionInfo,
  WTSSessionInfoEx,
  WTSUserName,
} from "../../../ffi/wtsapi32.ts";
import { type Clock, systemClock } from "../../clock.ts";
import type { PresentSession } from "../../platform.ts";
import {
  presentSessionFrom,
  type SessionDetails,
  type SessionUser,
  WTS_STATE,
} from "./session_map.ts";

/** The named event Terminal Services sets once WTS calls work. */
export const TERMSRV_READY_EVENT = "Global\\TermSrvReadyEvent";

/** Options of the waits: `signal` ends them early; `clock` (default the system clock) times them. */
export interface WaitOptions {
  signal?: AbortSignal;
  clock?: Clock;
}

/** The longest single wait on the event, so that `signal` ends a wait within this time. */
const WAIT_SLICE_MS = 1_000;
/** How long to wait before asking again where the ready event does not exist (yet). */
const MISSING_EVENT_RETRY_MS = 1_000;

/** One session from WTSEnumerateSessionsW. */
export interface WtsSession {
  sessionId: number;
  winStationName: string;
  /** WTS_CONNECTSTATE_CLASS: WTSActive 0, WTSConnected 1, WTSDisconnected 4, ... */
  state: number;
}

function queryString(session: number, infoClass: number, name: string): string {
  const out = new BigUint64Array(1);
  const bytes = new Uint32Array(1);
  unwrap(
    `WTSQuerySessionInformationW(${name})`,
    wtsapi32().WTSQuerySessionInformationW(null, session, infoClass, out, bytes),
  );
  const pointer = Deno.UnsafePointer.create(out[0]);
  try {
    return readWide(pointer, Math.max(0, bytes[0] / 2));
  } finally {
    wtsapi32().WTSFreeMemory(pointer);
  }
}

/** The user and domain of a session, or undefined when the system cannot say. */
export function querySessionUser(session: number): SessionUser | undefined {
  try {
    const user = queryString(session, WTSUserName, "WTSUserName");
    const domain = user ? queryString(session, WTSDomainName, "WTSDomainName") : "";
    return { user, domain };
  } catch {
    return undefined;
  }
}

/** The sessions of this machine (WTSEnumerateSessionsW). */
export function enumerateSessions(): WtsSession[] {
  const out = new BigUint64Array(1);
  const count = new Uint32Array(1);
  unwrap("WTSEnumerateSessionsW", wtsapi32().WTSEnumerateSessionsW(null, 0, 1, out, count));
  const pointer = Deno.UnsafePointer.create(out[0]);
  try {
    if (count[0] === 0 || pointer === null) return [];
    const bytes = new Uint8Array(count[0] * WTS_SESSION_INFO_SIZE);
    new Deno.UnsafePointerView(pointer).copyInto(bytes);
    return decodeSessionInfos(bytes, count[0]).map((info) => ({
      sessionId: info.sessionId,
      winStationName: readWide(Deno.UnsafePointer.create(info.winStationName), 256),
      state: info.state,
    }));
  } finally {
    if (pointer !== null) wtsapi32().WTSFreeMemory(pointer);
  }
}

/**
 * Waits, on a worker thread in slices of at most a second (so `signal` ends the wait quickly),
 * for the named event `name` to be set. Returns "signaled", "timeout", or "missing" when no such
 * event exists.
 */
export async function waitForNamedEvent(
  name: string,
  timeoutMs: number,
  options: WaitOptions = {},
): Promise<"signaled" | "timeout" | "missing"> {
  const clock = options.clock ?? systemClock;
  const k32 = kernel32();
  const handle = k32.OpenEventW(SYNCHRONIZE, 0, wide(name));
  if (handle === null) return "missing";
  const deadline = clock.monotonic() + timeoutMs;
  try {
    while (true) {
      // Whole milliseconds (a DWORD): the monotonic clock has fractions.
      const slice = Math.ceil(Math.max(0, Math.min(WAIT_SLICE_MS, deadline - clock.monotonic())));
      const result = await k32.WaitForSingleObjectAsync(handle, slice);
      if (result === WAIT_OBJECT_0) return "signaled";
      if (result !== WAIT_TIMEOUT) {
        throw new Error(
          `WaitForSingleObject failed on ${name}: ${
            result === WAIT_FAILED ? "WAIT_FAILED" : result
          }`,
        );
      }
      if (clock.monotonic() >= deadline || options.signal?.aborted) return "timeout";
    }
  } finally {
    k32.CloseHandle(handle);
  }
}

/**
 * Waits (at most `timeoutMs`) until Terminal Services is ready: its ready event is set or, where
 * the event does not exist (yet), WTSEnumerateSessionsW answers. Returns the sessions, or
 * undefined when Terminal Services was not ready in time (or `signal` aborted). An event that
 * exists but is never set (seen on some images) does not stop the enumeration: once the wait
 * times out it is tried anyway, and only its failure gives undefined.
 */
export async function enumerateWhenReady(
  timeoutMs: number,
  options: WaitOptions & { enumerate?: () => WtsSession[]; eventName?: string } = {},
): Promise<WtsSession[] | undefined> {
  const clock = options.clock ?? systemClock;
  const enumerate = options.enumerate ?? enumerateSessions;
  const deadline = clock.monotonic() + timeoutMs;
  while (!options.signal?.aborted) {
    const left = Math.max(0, deadline - clock.monotonic());
    const state = await waitForNamedEvent(
      options.eventName ?? TERMSRV_READY_EVENT,
      left,
      options,
    );
    const late = clock.monotonic() >= deadline;
    if (state !== "timeout" || late) {
      try {
        return enumerate();
      } catch (error) {
        if (late) {
          if (state === "timeout") return undefined; // never set, and not answering either
          throw error;
        }
      }
    }
    // The event is missing, or set while the call still fails: ask again in a moment.
    await clock.sleep(MISSING_EVENT_RETRY_MS, options.signal);
  }
  return undefined;
}

function querySessionRecord(session: number, infoClass: number, size: number): Uint8Array {
  const out = new BigUint64Array(1);
  const bytes = new Uint32Array(1);
  unwrap(
    `WTSQuerySessionInformationW(${
      infoClass === WTSSessionInfoEx ? "WTSSessionInfoEx" : "WTSSessionInfo"
    })`,
    wtsapi32().WTSQuerySessionInformationW(null, session, infoClass, out, bytes),
  );
  const pointer = Deno.UnsafePointer.create(out[0]);
  try {
    if (pointer === null || bytes[0] < size) {
      throw new RangeError(`session ${session}: ${bytes[0]} bytes returned, ${size} expected`);
    }
    const copy = new Uint8Array(size);
    new Deno.UnsafePointerView(pointer).copyInto(copy);
    return copy;
  } finally {
    if (pointer !== null) wtsapi32().WTSFreeMemory(pointer);
  }
}

/**
 * One session's details: WTSSessionInfoEx (user, state, lock flags, logon and connect times),
 * or WTSSessionInfo where the extended class is refused (no lock state then).
 */
export function querySessionDetails(session: number): SessionDetails {
  try {
    return decodeWtsInfoEx(querySessionRecord(session, WTSSessionInfoEx, WTSINFOEX_SIZE));
  } catch {
    return decodeWtsInfo(querySessionRecord(session, WTSSessionInfo, WTSINFO_SIZE));
  }
}

/**
 * The longest the snapshot's read holds the event loop before it lets other work (HandlerEx's
 * controls) in. A timer turn costs about 1-2 ms, so yielding after every session would double
 * the read; after 5 ms of calls, a control waits at most that long.
 */
const YIELD_AFTER_MS = 5;

/** Options of {@link readPresentSessions}. */
export interface PresentSessionsOptions {
  /** Replaces WTSEnumerateSessionsW (tests: synthetic sessions). */
  enumerate?: () => WtsSession[] | undefined | Promise<WtsSession[] | undefined>;
  /** Replaces the per-session query. */
  query?: (session: number) => SessionDetails;
  /** Times the yields; default the system clock. */
  clock?: Clock;
  /** Called with each session's details as they are read (the memory of session users). */
  learn?: (details: SessionDetails) => void;
}

/**
 * True when a session of this state may hold a signed-in user: WTSActive or WTSDisconnected
 * (a disconnected session keeps its user). The listener (WTSListen, session 65536 on servers),
 * idle, down, init and reset sessions hold none, and are never queried.
 */
export function mayHoldUser(session: WtsSession): boolean {
  return session.sessionId !== 0 &&
    (session.state === WTS_STATE.WTSActive || session.state === WTS_STATE.WTSDisconnected);
}

/**
 * The user sessions present now, for the agent's start. Sessions are filtered on the state the
 * enumeration gave ({@link mayHoldUser}) before any is queried. Each session costs two
 * synchronous system calls, and HandlerEx's controls run on this same event loop: once
 * {@link YIELD_AFTER_MS} of calls have run, the loop yields to it (a timer turn) before the next
 * session, so a stop or a session change is answered while hundreds of Remote Desktop sessions
 * are read. A session whose query fails is looked for again in a new enumeration: gone (its user
 * logged off between the two calls) or no longer a user's, it is left out; still there, the
 * snapshot throws, since an incomplete snapshot would make the core infer a Logoff for a user
 * who is still signed in.
 */
export async function readPresentSessions(
  options: PresentSessionsOptions = {},
): Promise<PresentSession[] | undefined> {
  const clock = options.clock ?? systemClock;
  const enumerate = options.enumerate ?? enumerateSessions;
  const sessions = await enumerate();
  if (sessions === undefined) return undefined;
  const query = options.query ?? querySessionDetails;
  const present: PresentSession[] = [];
  let ranSince = clock.monotonic();
  for (const session of sessions.filter(mayHoldUser)) {
    if (clock.monotonic() - ranSince >= YIELD_AFTER_MS) {
      await clock.sleep(0);
      ranSince = clock.monotonic();
    }
    let details: SessionDetails;
    try {
      details = query(session.sessionId);
    } catch (error) {
      const again = await enumerate();
      const still = again?.find((s) => s.sessionId === session.sessionId);
      if (again !== undefined && (still === undefined || !mayHoldUser(still))) continue;
      throw error;
    }
    options.learn?.(details);
    const found = presentSessionFrom(details);
    if (found) present.push(found);
  }
  return present;
}
