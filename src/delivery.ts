/**
 * Delivery: sends the journal's pending events to the server one at a time, oldest first, and
 * records each answer in event_log.csv. Paces itself by the server's rate-limit headers
 * (src/rate_limit.ts), backs off exponentially (with full jitter) when the server or the network
 * fails, and pauses when the server refuses the API key or the event URL, until
 * {@link Delivery.resume}.
 *
 * Time: every wait and deadline is on the injected clock's monotonic reading; the wall clock is
 * read only for the times in {@link DeliveryState} (status.json) and to turn a server's
 * X-RateLimit-Reset or Date header into a duration.
 *
 * @module
 */
import { type Clock, systemClock, type Timer } from "./clock.ts";
import { maskSecret } from "./config.ts";
import { eventKey, SendStatus, type SendStatusValue, type SessionEvent } from "./event.ts";
import {
  type AnswerTiming,
  MIN_RATE_LIMIT_WAIT_MS,
  rateLimitResetWait,
  RatePacer,
} from "./rate_limit.ts";
import { answerText, readAnswer } from "./server_answer.ts";
import { errorText } from "./text.ts";
import { type HttpResponse, type Transport, TransportError } from "./transport.ts";

/** The server's event endpoint, relative to server_url. */
export const DEFAULT_EVENT_PATH = "/api/log_event";
/** First backoff step after a failure; each further failure doubles it. */
export const BACKOFF_BASE_MS = 2_000;
/** Longest backoff step. */
export const BACKOFF_CAP_MS = 5 * 60_000;
/** How long {@link Delivery.stop} lets the request in flight finish. */
const STOP_GRACE_MS = 5_000;

/**
 * The JSON body the server expects for one event (REFERENCE.md §1). `LocalIP` and `IPAddress`
 * carry the same captured address (current and older servers); `PublicIP` only when known.
 */
export function eventBody(
  event: SessionEvent,
  options: { retry: boolean; publicIp?: string },
): string {
  const body: Record<string, string | number> = {
    EventType: event.eventType,
    UserName: event.userName,
    ComputerName: event.computerName,
    LocalIP: event.ipAddress,
    IPAddress: event.ipAddress,
  };
  if (options.publicIp) body.PublicIP = options.publicIp;
  body.Timestamp = event.timestamp;
  body.retry = options.retry ? 1 : 0;
  return JSON.stringify(body);
}

/** What an answer of the server means for delivery. */
export type Outcome =
  /** 2xx: the server has the event (`duplicate`: it had it already, 200 "already recorded"). */
  | { kind: "sent"; duplicate: boolean }
  /** 401 or 403: the API key is refused; pause until resumed, keep the event pending. */
  | { kind: "unauthorized"; message: string }
  /** 429: wait `waitMs` before the next request. */
  | { kind: "rate-limited"; waitMs: number }
  /** 5xx, 408, network, TLS or timeout: try again after a backoff. */
  | { kind: "retryable"; reason: string }
  /** 404 or 405: the URL is wrong for every event; pause until resumed. */
  | { kind: "misconfigured"; status: number; reason: string }
  /** Any other 4xx: the server refuses this event for good. */
  | { kind: "rejected"; status: number; reason: string };

/**
 * Classifies one answer of the server for the event it was sent. `wallNow` is the local wall
 * clock (ms since the epoch), read only when a 429 has a reset but no Date header.
 */
export function classify(response: HttpResponse, wallNow: number): Outcome {
  const answer = readAnswer(response);
  const status = answer.httpStatus;
  switch (answer.kind) {
    case "success":
      return { kind: "sent", duplicate: /already recorded/i.test(answerText(answer)) };
    case "unauthorized":
      return { kind: "unauthorized", message: answerText(answer) };
    case "rate-limited": {
      const wait = rateLimitResetWait(response, wallNow) ?? 0;
      return { kind: "rate-limited", waitMs: Math.max(wait, MIN_RATE_LIMIT_WAIT_MS) };
    }
    case "wrong-url":
      return { kind: "misconfigured", status, reason: answerText(answer) };
    case "refused":
      return { kind: "rejected", status, reason: answerText(answer) };
    case "retryable":
      return { kind: "retryable", reason: `the server answered ${status}: ${answerText(answer)}` };
  }
}

/** A pending journal entry as delivery needs it. */
export interface PendingEntry {
  /** The event exactly as captured: the body is built from it, never from current values. */
  readonly event: SessionEvent;
  /** The entry was found pending at start-up (a previous process may have sent it). */
  readonly recovered?: boolean;
  /** The entry's identity in the journal, when it has one (else the event's values are). */
  readonly seq?: number;
}

/** A status an answer settles an entry with: sent, sent on a retry, or refused for good. */
export type SettledStatus = Exclude<SendStatusValue, typeof SendStatus.Pending>;

/** The part of the journal delivery uses; src/journal.ts `Journal` satisfies it. */
export interface DeliveryJournal {
  /** The oldest pending entry, or undefined when none is. */
  oldestPending(): PendingEntry | undefined;
  /** How many entries are pending. */
  readonly pendingCount: number;
  /** Records an answer: sent on the first attempt, sent on a retry, or refused for good. */
  setStatus(entry: PendingEntry, status: SettledStatus): Promise<void>;
}

/** What delivery is doing, for status.json and `--status`; times are wall-clock ms. */
export interface DeliveryState {
  paused: null | "unauthorized" | "misconfigured" | "not-configured";
  lastError?: { at: number; message: string };
  lastSentAt?: number;
  /** When the next request may go (backoff or rate-limit wait), if delivery is waiting. */
  nextAttemptAt?: number;
  /** Events the server accepted (or already had) in this process. */
  sent: number;
  /** Events the server refused for good in this process. */
  rejected: number;
  /** The oldest pending event once tried in this process: its eventKey, attempts, last error. */
  sending?: { key: string; attempts: number; lastError?: string };
}

/** Options of {@link Delivery}. */
export interface DeliveryOptions {
  journal: DeliveryJournal;
  /** The transport in force (a config reload replaces it). */
  transport: () => Pick<Transport, "post" | "urlOf">;
  apiKey: () => string;
  /** Default {@link DEFAULT_EVENT_PATH}. */
  eventPath?: string;
  /** Default {@link systemClock}. */
  clock?: Clock;
  /** The public IP to send, when obtain_public_ip is on and it is known. */
  publicIp?: () => string | undefined;
  log: (level: "debug" | "info" | "warn" | "error", message: string) => void;
  onStateChange?: (state: DeliveryState) => void;
}

/** One request made for an entry and the server's answer to it. */
interface Exchange {
  entry: PendingEntry;
  /** This process had not tried the entry before. */
  firstAttempt: boolean;
  /** The URL the request went to (server_url's path prefix included), for messages. */
  url: string;
  response: HttpResponse;
  timing: AnswerTiming;
}

function describe(event: SessionEvent): string {
  return `${event.eventType} of ${event.userName} at ${event.timestamp}`;
}

function keyOf(entry: PendingEntry): string {
  return entry.seq !== undefined ? `#${entry.seq}` : eventKey(entry.event);
}

/**
 * The delivery loop. One request at a time, oldest pending first; a 2xx marks the entry sent,
 * another 4xx marks it refused, anything else leaves it pending for a later attempt.
 */
export class Delivery {
  #options: DeliveryOptions;
  #clock: Clock;
  #path: string;
  #paused: DeliveryState["paused"] = null;
  #lastError: DeliveryState["lastError"];
  #lastSentAt: number | undefined;
  #sent = 0;
  #rejected = 0;
  /** Consecutive retryable failures. */
  #failures = 0;
  /** Backoff: no request before this monotonic time. */
  #backoffUntil: number | undefined;
  /** Rate limit: holds requests until the window allows them. */
  #pacer = new RatePacer();
  /** Events attempted in this process and how often (so a later attempt says retry 1). */
  #attempted = new Map<string, number>();
  /** The entry sent last (the oldest pending one while it is retried). */
  #head: PendingEntry | undefined;
  #loop: Promise<void> | undefined;
  #wake: AbortController | undefined;
  #stopped = false;

  constructor(options: DeliveryOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#path = options.eventPath ?? DEFAULT_EVENT_PATH;
  }

  /** There may be new pending entries: drain them, unless paused or already draining/waiting. */
  kick(): void {
    if (this.#stopped || this.#paused) return;
    this.#start();
  }

  /** A health check passed or the config changed: clear pause and backoff, and drain now. */
  resume(): void {
    if (this.#stopped) return;
    const wasPaused = this.#paused;
    this.#paused = null;
    this.#failures = 0;
    this.#backoffUntil = undefined;
    if (wasPaused) this.#options.log("info", `Event delivery resumed (was paused: ${wasPaused})`);
    this.#wake?.abort();
    this.#changed();
    this.#start();
  }

  /** Stops sending until {@link Delivery.resume}; a request in flight still completes. */
  pause(reason: "not-configured"): void {
    if (this.#stopped || this.#paused === reason) return;
    this.#paused = reason;
    this.#wake?.abort();
    this.#changed();
  }

  /** A snapshot of the delivery state. */
  state(): DeliveryState {
    const now = this.#clock.monotonic();
    const waits = [this.#backoffUntil, this.#pacer.until].filter((t): t is number =>
      t !== undefined && t > now
    );
    return {
      paused: this.#paused,
      lastError: this.#lastError,
      lastSentAt: this.#lastSentAt,
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
    return { key: eventKey(this.#head.event), attempts, lastError: this.#lastError?.message };
  }

  /**
   * Stops: ends any wait, lets the request in flight and its status write finish (at most about
   * 5 s), and sends nothing more. Idempotent.
   */
  /**
   * Stops sending; waits up to `graceMs` (default 5 s) for the request in flight to be answered
   * and settled. A shutdown passes 0: the event stays pending and is sent after the restart.
   */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.#stopped = true;
    this.#wake?.abort();
    const loop = this.#loop;
    if (!loop || graceMs <= 0) return;
    let timer: Timer | undefined;
    await Promise.race([
      loop,
      new Promise<void>((resolve) => timer = this.#clock.after(graceMs, resolve)),
    ]);
    timer?.cancel();
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

  #redact(text: string): string {
    const key = this.#options.apiKey();
    return key.length >= 4 ? text.replaceAll(key, maskSecret(key)) : text;
  }

  async #drain(): Promise<void> {
    while (!this.#stopped && !this.#paused) {
      const until = Math.max(this.#backoffUntil ?? 0, this.#pacer.until ?? 0);
      const wait = until - this.#clock.monotonic();
      if (wait > 0) {
        this.#wake = new AbortController();
        try {
          await this.#clock.sleep(wait, this.#wake.signal);
        } catch {
          // Woken early: look again at what to do.
        }
        this.#wake = undefined;
        continue;
      }
      let entry: PendingEntry | undefined;
      let count = 0;
      try {
        entry = this.#options.journal.oldestPending();
        count = this.#options.journal.pendingCount;
      } catch (error) {
        this.#backOff(`cannot read the pending events: ${errorText(error)}`);
        continue;
      }
      if (!entry) return;
      const exchange = await this.#send(entry);
      if (exchange) await this.#apply(exchange, count);
    }
  }

  /** Sends one entry; undefined (after backing off) when no answer came. */
  async #send(entry: PendingEntry): Promise<Exchange | undefined> {
    const key = keyOf(entry);
    const firstAttempt = !this.#attempted.has(key);
    const retry = !firstAttempt || entry.recovered === true;
    try {
      const transport = this.#options.transport();
      const body = eventBody(entry.event, { retry, publicIp: this.#options.publicIp?.() });
      this.#attempted.set(key, (this.#attempted.get(key) ?? 0) + 1);
      this.#head = entry;
      const sentAt = this.#clock.monotonic();
      const response = await transport.post(this.#path, body, {
        "X-API-Key": this.#options.apiKey(),
        "Content-Type": "application/json",
      });
      const timing = {
        sentAt,
        receivedAt: this.#clock.monotonic(),
        wallNow: this.#clock.wallNow(),
      };
      return { entry, firstAttempt, url: transport.urlOf(this.#path), response, timing };
    } catch (error) {
      const reason = error instanceof TransportError
        ? error.message
        : `cannot send to the server: ${errorText(error)}`;
      this.#backOff(`${describe(entry.event)} not sent: ${reason}`);
      return undefined;
    }
  }

  /** Applies the server's answer: paces, then settles, pauses, waits or backs off. */
  async #apply(exchange: Exchange, pendingCount: number): Promise<void> {
    const { entry, response, timing } = exchange;
    const paced = this.#pacer.observe(response, timing);
    if (paced !== undefined) {
      this.#options.log(
        "debug",
        `Rate-limit budget spent: next event in ${(paced / 1000).toFixed(1)} s`,
      );
    }
    const outcome = classify(response, timing.wallNow);
    switch (outcome.kind) {
      case "sent": {
        const status = exchange.firstAttempt && !entry.recovered
          ? SendStatus.Sent
          : SendStatus.SentOnRetry;
        if (!await this.#settle(entry, status)) return;
        this.#sent++;
        this.#lastSentAt = timing.wallNow;
        this.#failures = 0;
        this.#backoffUntil = undefined;
        const already = outcome.duplicate ? " (the server already had it)" : "";
        this.#options.log("debug", `Sent ${describe(entry.event)}${already}`);
        break;
      }
      case "rejected": {
        this.#error(
          `The server refused ${describe(entry.event)} for good (${outcome.status}): ${
            this.#redact(outcome.reason)
          }; it stays in event_log.csv marked refused (status 3)`,
        );
        if (!await this.#settle(entry, SendStatus.Rejected)) return;
        this.#rejected++;
        break;
      }
      case "unauthorized": {
        this.#paused = "unauthorized";
        this.#error(
          `The server rejected the API key ${maskSecret(this.#options.apiKey())} (${
            this.#redact(outcome.message)
          }): sending is paused and ${pendingCount} events wait; set the right key with winagentUSM.exe --api-key <key>`,
        );
        break;
      }
      case "misconfigured": {
        this.#paused = "misconfigured";
        this.#error(
          `${exchange.url} answered ${outcome.status} (${
            this.#redact(outcome.reason)
          }): this is not the event endpoint; check server_url in config.ini. Sending is paused and ${pendingCount} events wait`,
        );
        break;
      }
      case "rate-limited": {
        this.#pacer.limited(timing.receivedAt, outcome.waitMs);
        const seconds = Math.ceil(outcome.waitMs / 1000);
        this.#options.log(
          "warn",
          `The server's rate limit was reached; next event in ${seconds} s`,
        );
        break;
      }
      case "retryable": {
        this.#backOff(`${describe(entry.event)} not sent: ${this.#redact(outcome.reason)}`);
        return;
      }
    }
    this.#changed();
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
    return true;
  }

  #error(message: string): void {
    this.#lastError = { at: this.#clock.wallNow(), message };
    this.#options.log("error", message);
  }

  /** A retryable failure: exponential backoff with full jitter. */
  #backOff(message: string): void {
    this.#failures++;
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (this.#failures - 1));
    const delay = Math.floor(this.#clock.random() * ceiling);
    this.#backoffUntil = this.#clock.monotonic() + delay;
    this.#lastError = { at: this.#clock.wallNow(), message };
    this.#options.log(
      "warn",
      `${message}; attempt ${this.#failures} failed, next in ${(delay / 1000).toFixed(1)} s`,
    );
    this.#changed();
  }
}
