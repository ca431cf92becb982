/**
 * The Windows session source: the service's HandlerEx hands it each SERVICE_CONTROL_SESSIONCHANGE
 * ({@link WtsSessionSource.notify}), and it reads the sessions present at start from Terminal
 * Services once, after waiting for Terminal Services to be ready. That one enumeration also fills
 * the memory of session users, so that a logoff whose user Windows no longer knows is still
 * attributed.
 *
 * @module
 */
import { type Clock, systemClock } from "../../clock.ts";
import type { PlatformLog, PresentSession, SessionSink, SessionSource } from "../../platform.ts";
import { errorText } from "../../text.ts";
import { SessionMemory, type UserLookup, wtsCodeName } from "./session_map.ts";
import {
  enumerateSessions,
  enumerateWhenReady,
  type PresentSessionsOptions,
  querySessionUser,
  readPresentSessions,
  type WtsSession,
} from "./wts.ts";

/** How long the start-up enumeration waits for Terminal Services. */
export const TERMSRV_WAIT_MS = 60_000;

/** Options of {@link WtsSessionSource}, mostly for tests. */
export interface WtsSessionSourceOptions {
  log: PlatformLog;
  /** Replaces WTSQuerySessionInformationW(WTSUserName, WTSDomainName). */
  lookupUser?: UserLookup;
  /** Replaces the wait for Terminal Services and WTSEnumerateSessionsW. */
  enumerate?: (signal: AbortSignal) => Promise<WtsSession[] | undefined>;
  /** Replaces the per-session query of the enumeration. */
  query?: PresentSessionsOptions["query"];
  /** How long to wait for Terminal Services (default {@link TERMSRV_WAIT_MS}). */
  termSrvTimeoutMs?: number;
  clock?: Clock;
}

/** The session changes of SERVICE_CONTROL_SESSIONCHANGE and the sessions present at start. */
export class WtsSessionSource implements SessionSource {
  #options: WtsSessionSourceOptions;
  #memory: SessionMemory;
  #sink: SessionSink | undefined;
  #delivering: Promise<void> = Promise.resolve();
  #closed = Promise.withResolvers<void>();
  #isClosed = false;
  #abort = new AbortController();

  constructor(options: WtsSessionSourceOptions) {
    this.#options = options;
    this.#memory = new SessionMemory(options.lookupUser ?? querySessionUser);
  }

  /** The memory of session users. */
  get sessions(): SessionMemory {
    return this.#memory;
  }

  /** Delivers the session changes to `sink`, in order, until {@link close}. */
  async run(sink: SessionSink): Promise<void> {
    if (this.#isClosed) return;
    this.#sink = sink;
    await this.#closed.promise;
    await this.#delivering;
  }

  /**
   * A SERVICE_CONTROL_SESSIONCHANGE (`wtsCode` its dwEventType, `atMs` the wall time HandlerEx
   * took first): resolved to the change the agent records and handed to the sink.
   */
  notify(wtsCode: number, session: number, atMs: number): void {
    const { log } = this.#options;
    const at = Temporal.Instant.fromEpochMilliseconds(atMs);
    const change = this.#memory.resolve(wtsCode, session, at);
    if (!change) {
      log("debug", `Ignored ${wtsCodeName(wtsCode)} for session ${session}`);
      return;
    }
    const sink = this.#sink;
    if (this.#isClosed || !sink) {
      const when = this.#isClosed ? "after the stop" : "while no agent listens";
      log("warn", `A ${change.type} of session ${change.session} ${when} is not recorded`);
      return;
    }
    // Handed over at once: the agent records the changes in the order it is given them.
    const delivered = sink(change).catch((error) => {
      log("error", `Session change not recorded: ${errorText(error)}`);
    });
    this.#delivering = Promise.all([this.#delivering, delivered]).then(() => {});
  }

  /**
   * The user sessions present now, read once: waits (at most {@link TERMSRV_WAIT_MS}) for
   * Terminal Services, enumerates the sessions and remembers each one's user. Undefined when
   * Terminal Services was not ready or the source was closed meanwhile.
   */
  async presentSessions(): Promise<PresentSession[] | undefined> {
    const { log } = this.#options;
    const clock = this.#options.clock ?? systemClock;
    const signal = this.#abort.signal;
    const timeoutMs = this.#options.termSrvTimeoutMs ?? TERMSRV_WAIT_MS;
    const sessions = await (this.#options.enumerate?.(signal) ??
      enumerateWhenReady(timeoutMs, { signal, clock }));
    if (sessions === undefined) {
      if (!signal.aborted) log("warn", "Terminal Services was not ready: sessions not enumerated");
      return undefined;
    }
    // The list the wait gave first; asked again (a session gone before its query), the system.
    let first: WtsSession[] | undefined = sessions;
    const present = await readPresentSessions({
      enumerate: () => {
        const list = first;
        first = undefined;
        return list ?? this.#options.enumerate?.(signal) ?? enumerateSessions();
      },
      query: this.#options.query,
      clock,
      learn: (details) =>
        this.#memory.remember(details.sessionId, {
          user: details.userName,
          domain: details.domainName,
        }),
    });
    log(
      "debug",
      `Sessions at start: ${sessions.length} enumerated, ${this.#memory.size} with a user`,
    );
    return present;
  }

  /** Stops delivering (the changes already handed over still reach the sink); idempotent. */
  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#abort.abort();
    this.#closed.resolve();
  }
}
