/**
 * Delivery: sends the journal's pending events to the server one at a time, oldest first, and
 * records each answer in event_log.csv. Paces itself by the server's rate-limit headers, backs
 * off exponentially (with full jitter) when the server or the network fails, and pauses when the
 * server refuses the API key or the event URL, until {@link Delivery.resume}.
 *
 * @module
 */
import type { SessionEvent } from "./event.ts";
import { maskSecret } from "./config.ts";
import { type HttpResponse, type Transport, TransportError } from "./transport.ts";

/** The server's event endpoint, relative to server_url. */
export const DEFAULT_EVENT_PATH = "/api/log_event";
/** First backoff step after a failure; each further failure doubles it. */
export const BACKOFF_BASE_MS = 2_000;
/** Longest backoff step. */
export const BACKOFF_CAP_MS = 5 * 60_000;
/**
 * Added to every wait for a rate-limit reset: the reset and the server's Date header are whole
 * seconds, so the window may really end up to a second after the reset the server announces.
 */
export const RESET_MARGIN_MS = 1_000;
/** Wait after a 429 whose reset is already past (or missing): short, but never hammering. */
export const MIN_RATE_LIMIT_WAIT_MS = 1_000;
/** Longest wait a rate-limit answer can impose (guards against absurd headers). */
export const MAX_RATE_LIMIT_WAIT_MS = 60 * 60_000;
/** How long {@link Delivery.stop} lets the request in flight finish. */
const STOP_GRACE_MS = 5_000;
/** Server messages quoted in logs are cut to this length. */
const MAX_QUOTE = 200;

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

/** The server's `message` (or `error`) field, else the start of the body. */
function serverMessage(response: HttpResponse): string {
  let text = "";
  try {
    const parsed = JSON.parse(response.body);
    if (parsed && typeof parsed === "object") {
      const said = parsed.message ?? parsed.error;
      if (typeof said === "string") text = said;
    }
  } catch {
    // Not JSON: quote the body itself.
  }
  if (!text) text = response.body.trim().replace(/\s+/g, " ");
  if (!text) text = `HTTP ${response.status}`;
  return text.length > MAX_QUOTE ? `${text.slice(0, MAX_QUOTE)}…` : text;
}

/**
 * The server's current time in ms, from its Date header, or `nowMs` when it has none. Used so
 * that a reset announced in the server's clock is turned into a wait, whatever the local skew.
 */
function serverNow(response: HttpResponse, nowMs: number): number {
  const date = response.headers["date"];
  if (date) {
    const parsed = Date.parse(date);
    if (!Number.isNaN(parsed)) return parsed;
  }
  return nowMs;
}

/**
 * How long until the rate window of `response` ends, from X-RateLimit-Reset (Unix seconds) or
 * Retry-After (seconds or an HTTP date), measured against the server's Date header. Undefined
 * when the response says neither.
 */
export function rateLimitResetWait(response: HttpResponse, nowMs: number): number | undefined {
  const reference = serverNow(response, nowMs);
  const reset = Number(response.headers["x-ratelimit-reset"]);
  let wait: number | undefined;
  if (response.headers["x-ratelimit-reset"] !== undefined && Number.isFinite(reset)) {
    wait = reset * 1000 - reference + RESET_MARGIN_MS;
  } else {
    const retryAfter = response.headers["retry-after"];
    if (retryAfter !== undefined) {
      const seconds = Number(retryAfter);
      if (retryAfter.trim() !== "" && Number.isFinite(seconds)) {
        wait = seconds * 1000;
      } else if (!Number.isNaN(Date.parse(retryAfter))) {
        wait = Date.parse(retryAfter) - reference + RESET_MARGIN_MS;
      }
    }
  }
  if (wait === undefined) return undefined;
  return Math.min(Math.max(wait, 0), MAX_RATE_LIMIT_WAIT_MS);
}

/**
 * Learns where the server's fixed rate window really ends, in the local clock.
 *
 * The reference server starts a window at the first request it counts and announces its end in
 * `X-RateLimit-Reset` rounded DOWN to the second, so the true end E lies in [reset, reset + 1 s).
 * Waiting for reset + 1 s is always safe but costs up to a second per window (20% of a 5 s
 * window). The first request of a window, sent at `sentAt` and answered at `receivedAt`, was
 * counted at some T0 between the two, and E = T0 + W, so the window length W lies in
 * (reset - receivedAt, reset + 1 s - sentAt]. Servers configure W in whole seconds; when exactly
 * one whole second fits the bounds (intersected over windows), that is W, and the current window
 * has ended by the arrival of its first answer + W. This holds when the server's clock agrees with ours; when it does not,
 * the first 429 turns the estimate off for good and the safe rule applies (so never more than one
 * 429 per window).
 */
export class RateWindowEstimator {
  #start: number | undefined;
  #low = -Infinity;
  #high = Infinity;
  #trusted = true;

  /** Notes an answer to a request sent at `sentAt` and answered at `receivedAt` (local ms). */
  observe(response: HttpResponse, sentAt: number, receivedAt: number): void {
    const limit = Number(response.headers["x-ratelimit-limit"]);
    const remaining = Number(response.headers["x-ratelimit-remaining"]);
    const reset = Number(response.headers["x-ratelimit-reset"]);
    if (![limit, remaining, reset].every(Number.isFinite) || response.status === 429) return;
    if (remaining !== limit - 1) return; // not the first request of a window
    const low = reset * 1000 - receivedAt;
    const high = reset * 1000 + 1000 - sentAt;
    if (high <= 0) return; // nonsense: the window would already be over
    // The window began when the server counted the request, at the latest when its answer came.
    this.#start = receivedAt;
    if (low > this.#high || high < this.#low) {
      // The window length or the clocks changed: start learning again.
      this.#low = low;
      this.#high = high;
    } else {
      this.#low = Math.max(this.#low, low);
      this.#high = Math.min(this.#high, high);
    }
  }

  /** The window length when the bounds admit exactly one whole number of seconds. */
  windowLength(): number | undefined {
    const first = Math.max(1000, Math.floor(this.#low / 1000) * 1000 + 1000);
    if (first > this.#high) return undefined;
    return first + 1000 > this.#high ? first : undefined;
  }

  /** The local time by which the current window has ended, when it can be told. */
  windowEnd(): number | undefined {
    const length = this.windowLength();
    if (!this.#trusted || this.#start === undefined || length === undefined) return undefined;
    return this.#start + length + WINDOW_END_MARGIN_MS;
  }

  /** A 429 came: the clocks or the window do not behave as assumed; stop estimating. */
  distrust(): void {
    this.#trusted = false;
  }
}

/** Added to a learned window end, for timer and clock granularity. */
export const WINDOW_END_MARGIN_MS = 20;

/** Classifies one answer of the server for the event it was sent. */
export function classify(response: HttpResponse, nowMs: number): Outcome {
  const status = response.status;
  if (status >= 200 && status < 300) {
    return { kind: "sent", duplicate: /already recorded/i.test(serverMessage(response)) };
  }
  if (status === 401 || status === 403) {
    return { kind: "unauthorized", message: serverMessage(response) };
  }
  if (status === 429) {
    const wait = rateLimitResetWait(response, nowMs) ?? 0;
    return { kind: "rate-limited", waitMs: Math.max(wait, MIN_RATE_LIMIT_WAIT_MS) };
  }
  if (status === 404 || status === 405) {
    return { kind: "misconfigured", status, reason: serverMessage(response) };
  }
  if (status >= 400 && status < 500 && status !== 408) {
    return { kind: "rejected", status, reason: serverMessage(response) };
  }
  return { kind: "retryable", reason: `the server answered ${status}: ${serverMessage(response)}` };
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

/** The part of the journal delivery uses; src/journal.ts `Journal` satisfies it. */
export interface DeliveryJournal {
  /** The oldest pending entry, or undefined when none is. */
  oldestPending(): PendingEntry | undefined;
  /** How many entries are pending. */
  readonly pendingCount: number;
  /** Records an answer: 1 sent on the first attempt, 2 sent on a retry, 3 refused for good. */
  setStatus(entry: PendingEntry, status: 1 | 2 | 3): Promise<void>;
}

/** Time as delivery sees it (injected in tests). */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early (resolving or rejecting) when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** A number in [0, 1). */
  random(): number;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  random: () => Math.random(),
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });
  },
};

/** What delivery is doing, for status.json and `--status`. */
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
}

/** Options of {@link Delivery}. */
export interface DeliveryOptions {
  journal: DeliveryJournal;
  /** The transport in force (a config reload replaces it). */
  transport: () => Pick<Transport, "post" | "origin">;
  apiKey: () => string;
  /** Default {@link DEFAULT_EVENT_PATH}. */
  eventPath?: string;
  clock?: Clock;
  /** The public IP to send, when obtain_public_ip is on and it is known. */
  publicIp?: () => string | undefined;
  log: (level: "debug" | "info" | "warn" | "error", message: string) => void;
  onStateChange?: (state: DeliveryState) => void;
}

function describe(event: SessionEvent): string {
  return `${event.eventType} of ${event.userName} at ${event.timestamp}`;
}

function keyOf(entry: PendingEntry): string {
  if (entry.seq !== undefined) return `#${entry.seq}`;
  const event = entry.event;
  return JSON.stringify([
    event.eventType,
    event.userName,
    event.computerName,
    event.ipAddress,
    event.timestamp,
  ]);
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
  /** Backoff: no request before this time. */
  #backoffUntil: number | undefined;
  /** Rate limit: no request before this time. */
  #rateUntil: number | undefined;
  #window = new RateWindowEstimator();
  /** Events attempted in this process (so a later attempt says retry 1). */
  #attempted = new Set<string>();
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
    const waits = [this.#backoffUntil, this.#rateUntil].filter((t): t is number =>
      t !== undefined && t > this.#clock.now()
    );
    return {
      paused: this.#paused,
      lastError: this.#lastError,
      lastSentAt: this.#lastSentAt,
      nextAttemptAt: waits.length > 0 ? Math.max(...waits) : undefined,
      sent: this.#sent,
      rejected: this.#rejected,
    };
  }

  /**
   * Stops: ends any wait, lets the request in flight and its status write finish (at most about
   * 5 s), and sends nothing more. Idempotent.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.abort();
    const loop = this.#loop;
    if (!loop) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      loop,
      new Promise<void>((resolve) => timer = setTimeout(resolve, STOP_GRACE_MS)),
    ]);
    clearTimeout(timer);
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
      const until = Math.max(this.#backoffUntil ?? 0, this.#rateUntil ?? 0);
      const wait = until - this.#clock.now();
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
        this.#fail(`cannot read the pending events: ${(error as Error).message}`);
        continue;
      }
      if (!entry) return;
      await this.#attempt(entry, count);
    }
  }

  async #attempt(entry: PendingEntry, pendingCount: number): Promise<void> {
    const event = entry.event;
    const key = keyOf(entry);
    const firstAttempt = !this.#attempted.has(key);
    const retry = !firstAttempt || entry.recovered === true;
    let response: HttpResponse;
    let origin = "the server";
    let sentAt = 0;
    try {
      const transport = this.#options.transport();
      origin = transport.origin;
      const body = eventBody(event, { retry, publicIp: this.#options.publicIp?.() });
      this.#attempted.add(key);
      sentAt = this.#clock.now();
      response = await transport.post(this.#path, body, {
        "X-API-Key": this.#options.apiKey(),
        "Content-Type": "application/json",
      });
    } catch (error) {
      const reason = error instanceof TransportError
        ? error.message
        : `cannot send to the server: ${(error as Error).message}`;
      this.#fail(`${describe(event)} not sent: ${reason}`);
      return;
    }
    const now = this.#clock.now();
    this.#window.observe(response, sentAt, now);
    this.#pace(response, now);
    const outcome = classify(response, now);
    switch (outcome.kind) {
      case "sent": {
        const status = firstAttempt && !entry.recovered ? 1 : 2;
        if (!await this.#record(entry, status)) return;
        this.#attempted.delete(key);
        this.#sent++;
        this.#lastSentAt = now;
        this.#failures = 0;
        this.#backoffUntil = undefined;
        this.#options.log(
          "debug",
          `Sent ${describe(event)}${outcome.duplicate ? " (the server already had it)" : ""}`,
        );
        break;
      }
      case "rejected": {
        this.#error(
          `The server refused ${describe(event)} for good (${outcome.status}): ${
            this.#redact(outcome.reason)
          }; it stays in event_log.csv marked refused (status 3)`,
        );
        if (!await this.#record(entry, 3)) return;
        this.#attempted.delete(key);
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
          `${origin}${this.#path} answered ${outcome.status} (${
            this.#redact(outcome.reason)
          }): this is not the event endpoint; check server_url in config.ini. Sending is paused and ${pendingCount} events wait`,
        );
        break;
      }
      case "rate-limited": {
        this.#window.distrust();
        this.#rateUntil = Math.max(this.#rateUntil ?? 0, now + outcome.waitMs);
        this.#options.log(
          "warn",
          `The server's rate limit was reached; next event in ${
            Math.ceil(outcome.waitMs / 1000)
          } s`,
        );
        break;
      }
      case "retryable": {
        this.#fail(`${describe(event)} not sent: ${this.#redact(outcome.reason)}`);
        return;
      }
    }
    this.#changed();
  }

  /** Proactive pacing: the window's budget is spent, so nothing goes before its reset. */
  #pace(response: HttpResponse, now: number): void {
    const remaining = response.headers["x-ratelimit-remaining"];
    if (remaining === undefined || remaining.trim() === "" || Number(remaining) > 0) return;
    const safeWait = rateLimitResetWait(response, now);
    if (safeWait === undefined) return;
    // The learned end of the window when there is one (never later than the safe rule).
    const learned = this.#window.windowEnd();
    const until = learned === undefined
      ? now + safeWait
      : Math.max(now, Math.min(learned, now + safeWait));
    this.#rateUntil = Math.max(this.#rateUntil ?? 0, until);
    this.#options.log(
      "debug",
      `Rate-limit budget spent: next event in ${((until - now) / 1000).toFixed(1)} s`,
    );
  }

  /** Writes an entry's status; on failure logs and backs off (the entry stays pending). */
  async #record(entry: PendingEntry, status: 1 | 2 | 3): Promise<boolean> {
    try {
      await this.#options.journal.setStatus(entry, status);
      return true;
    } catch (error) {
      this.#fail(
        `cannot record the answer for ${describe(entry.event)} in event_log.csv: ${
          (error as Error).message
        }`,
      );
      return false;
    }
  }

  #error(message: string): void {
    this.#lastError = { at: this.#clock.now(), message };
    this.#options.log("error", message);
  }

  /** A retryable failure: exponential backoff with full jitter. */
  #fail(message: string): void {
    this.#failures++;
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (this.#failures - 1));
    const delay = Math.floor(this.#clock.random() * ceiling);
    const now = this.#clock.now();
    this.#backoffUntil = now + delay;
    this.#lastError = { at: now, message };
    this.#options.log(
      "warn",
      `${message}; attempt ${this.#failures} failed, next in ${(delay / 1000).toFixed(1)} s`,
    );
    this.#changed();
  }
}
