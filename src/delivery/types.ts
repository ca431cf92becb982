/**
 * The types delivery shares with the journal, the agent and status.json: the pending entry, the
 * part of the journal delivery uses, delivery's state and options.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { SendStatus, SendStatusValue, SessionEvent } from "../event.ts";
import type { AnswerTiming } from "./rate_limit.ts";
import type { HttpResponse, Transport } from "../net/transport.ts";
import type { TransportErrorCode } from "../net/transport_error.ts";

/** A pending journal entry as delivery needs it. */
export interface PendingEntry {
  /** The event exactly as captured: the body is built from it, never from current values. */
  readonly event: SessionEvent;
  /** The entry was found pending at start-up (a previous process may have sent it). */
  readonly recovered?: boolean;
  /** The entry's identity in the journal, when it has one (else the event's values are). */
  readonly seq?: number;
}

/** A suspect 4xx, kept until another event's answer tells whether it concerns this one. */
export interface Suspect {
  readonly key: string;
  readonly entry: PendingEntry;
  readonly status: number;
  readonly reason: string;
  /** The setup that answered (the URL and API key the request went with), never logged. */
  readonly setup: string;
}

/** A status an answer settles an entry with: sent, sent on a retry, or refused for good. */
export type SettledStatus = Exclude<SendStatusValue, typeof SendStatus.Pending>;

/** The part of the journal delivery uses; src/journal/journal.ts `Journal` satisfies it. */
export interface DeliveryJournal {
  /** The oldest pending entry, or undefined when none is. */
  oldestPending(): PendingEntry | undefined;
  /**
   * The pending entries from the oldest on, each made as the walk reaches it (walked only while
   * some entry waits on its own backoff, and only as far as the first that does not).
   */
  pendingEntries(): Iterable<PendingEntry>;
  /** How many entries are pending. */
  readonly pendingCount: number;
  /** Records an answer: sent on the first attempt, sent on a retry, or refused for good. */
  setStatus(entry: PendingEntry, status: SettledStatus): Promise<void>;
}

/** Why sending is paused. */
export type PauseReason = "unauthorized" | "misconfigured" | "not-configured" | "refusing";

/**
 * Why the last attempt failed: no HTTP answer (a {@link TransportErrorCode}: the server cannot
 * be reached, its certificate is not trusted or does not match the pin, no answer in time), or
 * an answer that stored nothing.
 */
export type DeliveryFailure = TransportErrorCode | "answer";

/** What delivery is doing, for status.json and `--status`; times are wall-clock ms. */
export interface DeliveryState {
  paused: null | PauseReason;
  lastError?: { at: number; message: string };
  /**
   * Since when attempts fail: the first failed attempt after the last event the server stored
   * or refused for good; undefined when the last attempt succeeded (or none was made).
   */
  failingSince?: number;
  /** Why the last attempt failed, while {@link DeliveryState.failingSince} is set. */
  failure?: DeliveryFailure;
  lastSentAt?: number;
  /** When the next request may go (backoff or rate-limit wait), if delivery is waiting. */
  nextAttemptAt?: number;
  /** Events the server accepted (or already had) in this process. */
  sent: number;
  /** Events the server refused for good in this process. */
  rejected: number;
  /** The event sent last once tried in this process: its eventKey, attempts, last error. */
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
  /**
   * The server's budget assumed until a 429 says otherwise. Default the server's default, 60
   * requests per 60 s (a server configured for more is paced at that until it says so).
   */
  rateBudget?: { limit: number; windowMs: number } | null;
  /** Whether the last health check passed (else a 4xx is the setup's). Default: true. */
  healthy?: () => boolean;
  /**
   * Asked, with backoff, while sending is paused (not for "not-configured"): a health check
   * whose pass calls {@link Delivery.resume}. Default: resume and try again.
   */
  probe?: () => void;
  log: (level: "debug" | "info" | "warn" | "error", message: string) => void;
  onStateChange?: (state: DeliveryState) => void;
}

/** One request made for an entry and the server's answer to it. */
export interface Exchange {
  entry: PendingEntry;
  /** This process had not tried the entry before. */
  firstAttempt: boolean;
  /** The URL the request went to (server_url's path prefix included), for messages. */
  url: string;
  /** The URL and the API key the request went with: a 4xx is judged per setup. Never logged. */
  setup: string;
  response: HttpResponse;
  timing: AnswerTiming;
}

/** What to do next: send `entry`, or wait until `wakeAt`. */
export interface Next {
  entry?: PendingEntry;
  count: number;
  wakeAt?: number;
}
