/**
 * Delivery: sends the journal's pending events one at a time, oldest first, and records each
 * answer in event_log.csv. Sent means the server's own "stored" answers (event_answer.ts); an
 * event the server fails waits on its own backoff while the others go on (deferred_events.ts); a
 * 4xx is refused for good only when it concerns its event (refusal.ts); a pause is probed again
 * with backoff (pause_probe.ts); the rate limit is counted (rate_limit.ts). docs/delivery.md
 * says what each answer leads to.
 *
 * Time: every wait and deadline is on the injected clock's monotonic reading; the wall clock is
 * read only for the times in {@link DeliveryState} (status.json) and to turn a server's
 * X-RateLimit-Reset or Date header into a duration.
 *
 * @module
 */
import { type Clock, systemClock, type Timer } from "../clock.ts";
import { eventKey, SendStatus } from "../event.ts";
import { classify, describe, keyOf } from "./event_answer.ts";
import { DeferredEvents, nextToSend, OUTAGE_BACKOFF_CAP_MS } from "./deferred_events.ts";
import { FailureRecord } from "./failures.ts";
import { PauseProbe } from "./pause_probe.ts";
import { RefusalJudge } from "./refusal.ts";
import type {
  DeliveryOptions,
  DeliveryState,
  Exchange,
  Next,
  PauseReason,
  PendingEntry,
  SettledStatus,
  Suspect,
} from "./types.ts";
import { RatePacer } from "./rate_limit.ts";
import { SentLog } from "./sent_log.ts";
import { maskSecret } from "../log/redact.ts";
import { errorText } from "../text.ts";
import { postEvent, sendFailure } from "./post.ts";
import {
  keyRejected,
  rateLimitReached,
  refusedForGood,
  stoppedUnanswered,
  storedAlready,
  suspectAnswer,
} from "./messages.ts";

/** The server's event endpoint, relative to server_url. */
export const DEFAULT_EVENT_PATH = "/api/log_event";
/** How long {@link Delivery.stop} lets the request in flight finish. */
const STOP_GRACE_MS = 5_000;
/**
 * How long a shutdown lets the request already on the wire finish, so that an event the server
 * stores is marked sent rather than resent at the next start; short, inside Windows' budget.
 */
export const SHUTDOWN_GRACE_MS = 2_500;

/**
 * The delivery loop. One request at a time, oldest pending first (skipping the events that
 * wait on their own backoff).
 */
export class Delivery {
  #options: DeliveryOptions;
  #clock: Clock;
  #path: string;
  #paused: DeliveryState["paused"] = null;
  #lastSentAt: number | undefined;
  /** The last error, since when attempts fail, the backoff of all of delivery. */
  #record: FailureRecord;
  #sent = 0;
  /** The "Sent" lines of the log. */
  #sentLog: SentLog;
  #rejected = 0;
  /** Events the server failed, each on its own backoff. */
  #deferred: DeferredEvents;
  /** Rate limit: holds requests until the window allows them. */
  #pacer: RatePacer;
  /** Events attempted in this process (so a later attempt says retry 1). */
  #attempted = new Map<string, number>();
  /** The entry sent last (the oldest pending one while it is retried). */
  #head: PendingEntry | undefined;
  /** Whether a 4xx concerns its event or the setup. */
  #judge = new RefusalJudge();
  /** While paused by an answer: asks the server again, with backoff. */
  #probe: PauseProbe;
  #loop: Promise<void> | undefined;
  #wake: AbortController | undefined;
  /** The loop waits only for deferred events: a new event may go at once. */
  #waitingForDeferred = false;
  #stopped = false;

  constructor(options: DeliveryOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#path = options.eventPath ?? DEFAULT_EVENT_PATH;
    this.#deferred = new DeferredEvents(this.#clock);
    this.#sentLog = new SentLog(options.log);
    this.#record = new FailureRecord(this.#clock, options.log);
    this.#pacer = new RatePacer(options.rateBudget);
    this.#probe = new PauseProbe({
      clock: this.#clock,
      stillPaused: () =>
        !this.#stopped && this.#paused !== null && this.#paused !== "not-configured",
      probe: () => {
        this.#options.log("info", `Sending is paused (${this.#paused}): asking the server again`);
        if (this.#options.probe) this.#options.probe();
        else this.resume();
      },
    });
  }

  /** There may be new pending entries: drain them, unless paused or already draining/waiting. */
  kick(): void {
    if (this.#stopped || this.#paused) return;
    if (this.#waitingForDeferred) this.#wake?.abort();
    this.#start();
  }

  /** A health check passed or the config changed: clear pause and backoff, and drain now. */
  resume(): void {
    if (this.#stopped) return;
    const wasPaused = this.#paused;
    this.#paused = null;
    this.#probe.cancel();
    this.#deferred.clear();
    this.#record.reset();
    if (wasPaused) this.#options.log("info", `Event delivery resumed (was paused: ${wasPaused})`);
    this.#wake?.abort();
    this.#changed();
    this.#start();
  }

  /** Stops sending until {@link Delivery.resume}; a request in flight still completes. */
  pause(reason: "not-configured"): void {
    if (this.#stopped || this.#paused === reason) return;
    this.#paused = reason;
    this.#probe.cancel();
    this.#wake?.abort();
    this.#changed();
  }

  /** The server's rate limit as config.ini states it (null: none), until a 429 says otherwise. */
  setRateBudget(budget: { limit: number; windowMs: number } | null): void {
    this.#pacer.assume(budget);
  }

  /** A snapshot of the delivery state. */
  state(): DeliveryState {
    const now = this.#clock.monotonic();
    const allDeferred = this.#deferred.size > 0 &&
      this.#deferred.size >= this.#options.journal.pendingCount;
    const deferred = allDeferred ? this.#deferred.firstEnd() : undefined;
    const waits = [this.#record.backoffUntil, this.#pacer.until(now), deferred].filter((
      t,
    ): t is number => t !== undefined && t > now);
    return {
      paused: this.#paused,
      lastError: this.#record.lastError,
      lastSentAt: this.#lastSentAt,
      failingSince: this.#record.failing?.since,
      failure: this.#record.failing?.why,
      nextAttemptAt: waits.length > 0
        ? this.#clock.wallNow() + (Math.max(...waits) - now)
        : undefined,
      sent: this.#sent,
      rejected: this.#rejected,
      sending: this.#sending(),
    };
  }

  #sending(): DeliveryState["sending"] {
    const attempts = this.#head && this.#attempted.get(keyOf(this.#head));
    if (!this.#head || !attempts) return undefined;
    return {
      key: eventKey(this.#head.event),
      attempts,
      lastError: this.#record.lastError?.message,
    };
  }

  /**
   * Stops: ends any wait, lets the request in flight and its status write finish (at most
   * `graceMs`, default 5 s; a shutdown passes {@link SHUTDOWN_GRACE_MS}), and sends nothing
   * more. Idempotent. A request still unanswered then is given up: its event stays pending and
   * is sent after the restart (answered "already recorded" if the server stored it meanwhile).
   */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.#stopped = true;
    this.#probe.cancel();
    this.#wake?.abort();
    const loop = this.#loop;
    if (!loop) return;
    let timer: Timer | undefined;
    const finished = await Promise.race([
      loop.then(() => true),
      new Promise<boolean>((resolve) => timer = this.#clock.after(graceMs, () => resolve(false))),
    ]);
    timer?.cancel();
    if (!finished && this.#head) {
      this.#options.log("warn", stoppedUnanswered(this.#head.event, graceMs));
    }
  }

  #start(): void {
    if (this.#loop) return;
    this.#loop = this.#drain().finally(() => {
      this.#loop = undefined;
    });
  }

  #changed(): void {
    try {
      this.#options.onStateChange?.(this.state());
    } catch {
      // A listener's failure is not delivery's.
    }
  }

  /** Sleeps `ms` on the monotonic clock, woken early by a resume, a pause or the stop. */
  async #wait(ms: number): Promise<void> {
    this.#wake = new AbortController();
    try {
      await this.#clock.sleep(ms, this.#wake.signal);
    } catch {
      // Woken early: look again at what to do.
    }
    this.#wake = undefined;
  }

  async #drain(): Promise<void> {
    while (!this.#stopped && !this.#paused) {
      const backoff = (this.#record.backoffUntil ?? 0) - this.#clock.monotonic();
      if (backoff > 0) {
        await this.#wait(backoff);
        continue;
      }
      let next: Next;
      try {
        next = nextToSend(this.#options.journal, this.#deferred, this.#judge);
      } catch (error) {
        this.#backOff(`cannot read the pending events: ${errorText(error)}`);
        continue;
      }
      if (!next.entry) {
        // Only deferred events are left: wait for the first to come due, else nothing to do.
        if (next.wakeAt === undefined) return;
        this.#waitingForDeferred = true;
        await this.#wait(next.wakeAt - this.#clock.monotonic());
        this.#waitingForDeferred = false;
        continue;
      }
      const paced = this.#pacer.sending(this.#clock.monotonic());
      if (paced > 0) {
        this.#options.log(
          "debug",
          `Rate-limit budget spent: next event in ${(paced / 1000).toFixed(1)} s`,
        );
        await this.#wait(paced);
        continue;
      }
      const exchange = await this.#send(next.entry);
      if (exchange) await this.#apply(exchange, next.count);
    }
  }

  /** Sends one entry; undefined (after backing off) when no answer came. */
  async #send(entry: PendingEntry): Promise<Exchange | undefined> {
    const key = keyOf(entry);
    const firstAttempt = !this.#attempted.has(key);
    const retry = !firstAttempt || entry.recovered === true;
    try {
      return await postEvent(this.#options, {
        path: this.#path,
        entry,
        firstAttempt,
        retry,
        clock: this.#clock,
        sending: () => {
          this.#attempted.set(key, (this.#attempted.get(key) ?? 0) + 1);
          this.#head = entry;
        },
      });
    } catch (error) {
      const failure = sendFailure(error);
      // The rate window is anchored only on requests that may have reached the server.
      if (failure.unsent) this.#pacer.unsent();
      else this.#pacer.answered(this.#clock.monotonic());
      this.#record.attemptFailed(failure.why);
      // No connection at all (an outage): retried often, since such an attempt costs nothing.
      this.#backOff(
        `${describe(entry.event)} not sent: ${failure.reason}`,
        failure.outage ? OUTAGE_BACKOFF_CAP_MS : undefined,
      );
      return undefined;
    }
  }

  /** Applies the server's answer: settles, defers, pauses, waits or backs off. */
  async #apply(exchange: Exchange, pendingCount: number): Promise<void> {
    const { entry, response, timing } = exchange;
    const outcome = classify(response);
    if (outcome.kind !== "rate-limited") this.#pacer.answered(timing.receivedAt);
    if (outcome.kind !== "sent" && outcome.kind !== "rate-limited") {
      this.#record.attemptFailed("answer");
    }
    const where = exchange.url;
    switch (outcome.kind) {
      case "sent":
        await this.#delivered(exchange, outcome.duplicate, pendingCount);
        break;
      case "rejected":
        this.#rejectedAnswer(exchange, outcome, pendingCount);
        break;
      case "unauthorized":
        this.#pause(
          "unauthorized",
          keyRejected(maskSecret(this.#options.apiKey()), outcome.message, pendingCount),
        );
        break;
      case "misconfigured":
        this.#pause(
          "misconfigured",
          `${where} ${outcome.reason}. Sending is paused and ${pendingCount} events wait`,
        );
        break;
      case "rate-limited":
        this.#rateLimited(exchange);
        return;
      case "retryable":
        this.#failed(entry, outcome.reason);
        return;
    }
    this.#changed();
  }

  async #delivered(exchange: Exchange, duplicate: boolean, waiting: number): Promise<void> {
    const { entry, timing } = exchange;
    const status = exchange.firstAttempt && !entry.recovered
      ? SendStatus.Sent
      : SendStatus.SentOnRetry;
    if (!await this.#settle(entry, status)) return;
    this.#sent++;
    this.#lastSentAt = timing.wallNow;
    this.#record.succeeded();
    this.#probe.sent();
    this.#deferred.release(keyOf(entry));
    if (duplicate && status === SendStatus.Sent) {
      // Never sent before, yet "already recorded" (docs/server-contract.md: naive local times).
      this.#options.log("warn", storedAlready(entry.event));
    } else {
      const left = this.#options.journal.pendingCount;
      this.#sentLog.sent(describe(entry.event), { duplicate, waiting, left });
    }
    // Another event was accepted by the same setup: a suspect 4xx concerned its own event.
    for (const proven of this.#judge.accepted(keyOf(entry), exchange.setup)) {
      await this.#refuse(proven);
    }
  }

  /**
   * A 4xx other than 401/403/404/405/429: when the setup is at fault, sending pauses; else the
   * event waits on its own backoff until another event's answer tells (src/delivery/refusal.ts).
   */
  #rejectedAnswer(
    { entry, setup }: Exchange,
    { status, reason }: { status: number; reason: string },
    pendingCount: number,
  ): void {
    const key = keyOf(entry);
    const healthy = this.#options.healthy?.() ?? true;
    const pause = this.#judge.rejected({ key, entry, status, reason, setup }, healthy);
    if (pause) {
      this.#pause("refusing", `${pause}. Sending is paused and ${pendingCount} events wait`);
      return;
    }
    const delay = this.#deferred.defer(key, this.#clock.random());
    const message = this.#record.note(suspectAnswer(entry.event, status, reason));
    this.#options.log("warn", `${message}; tried again in ${(delay / 1000).toFixed(1)} s`);
  }

  /** Marks a suspect 4xx refused for good (status 3). */
  async #refuse({ entry, status, reason }: Suspect): Promise<void> {
    this.#record.error(refusedForGood(entry.event, status, reason));
    if (!await this.#settle(entry, SendStatus.Rejected)) return;
    this.#rejected++;
    this.#record.settled();
    this.#changed();
  }

  #rateLimited(exchange: Exchange): void {
    const lesson = this.#pacer.limited(exchange.response, exchange.timing);
    if (lesson.backOff) return this.#backOff(lesson.backOff);
    this.#options.log("warn", rateLimitReached(lesson));
    this.#changed();
  }

  /**
   * The server failed this event (5xx and the like): it waits on its own backoff while the
   * others go on; when the previous attempt failed too, all of delivery backs off.
   */
  #failed(entry: PendingEntry, reason: string): void {
    const delay = this.#deferred.defer(keyOf(entry), this.#clock.random());
    const failure = `${describe(entry.event)} not sent: ${reason}`;
    if (this.#record.failedFor(keyOf(entry))) {
      this.#backOff(failure);
      return;
    }
    const message = this.#record.note(failure);
    this.#options.log(
      "warn",
      `${message}; this event is tried again in ${(delay / 1000).toFixed(1)} s, the others go on`,
    );
    this.#changed();
  }

  /** Pauses sending for `reason` and has the server asked again with backoff. */
  #pause(reason: Exclude<PauseReason, "not-configured">, message: string): void {
    this.#paused = reason;
    const delay = this.#probe.paused();
    this.#record.error(`${message}; asking the server again in ${Math.round(delay / 1000)} s`);
  }

  /**
   * Writes the status an answer settles an entry with, and forgets the entry's attempts; when
   * the write fails, logs and backs off (the entry stays pending). True when written.
   */
  async #settle(entry: PendingEntry, status: SettledStatus): Promise<boolean> {
    try {
      await this.#options.journal.setStatus(entry, status);
    } catch (error) {
      this.#backOff(
        `cannot record the answer for ${describe(entry.event)} in event_log.csv: ${
          errorText(error)
        }`,
      );
      return false;
    }
    this.#attempted.delete(keyOf(entry));
    this.#deferred.release(keyOf(entry));
    return true;
  }

  /** A failure of all of delivery: backs off (see {@linkcode FailureRecord.backOff}). */
  #backOff(message: string, cap?: number): void {
    this.#record.backOff(message, cap);
    this.#changed();
  }
}
