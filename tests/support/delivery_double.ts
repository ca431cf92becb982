/**
 * Doubles for delivery's unit tests: a journal in memory, a transport that answers as scripted,
 * a virtual clock, and `setup`, which wires them to a Delivery.
 *
 * @module
 */
import assert from "node:assert/strict";
import { systemClock } from "../../src/clock.ts";
import { ManualClock } from "./manual_clock.ts";
import { Delivery } from "../../src/delivery/delivery.ts";
import type { DeliveryJournal, DeliveryOptions, PendingEntry } from "../../src/delivery/types.ts";
import { type SessionEvent } from "../../src/event.ts";
import type { HttpResponse } from "../../src/net/transport.ts";

export const API_KEY = "47959c6d0123456789abcdef0123456789abcdefdeadbeef";
export const T0 = Date.UTC(2025, 3, 27, 7, 0, 0);
/** The monotonic reading at T0: it counts from an arbitrary start, not from the epoch. */
export const M0 = 123_456;

export function event(n: number, overrides: Partial<SessionEvent> = {}): SessionEvent {
  const second = String(n % 60).padStart(2, "0");
  const minute = String(Math.floor(n / 60) % 60).padStart(2, "0");
  return {
    eventType: n % 2 === 0 ? "Logon" : "Logoff",
    userName: "josh",
    computerName: "DESKTOP-5D51HM9",
    ipAddress: "192.168.66.34",
    timestamp: `2025-04-27T08:${minute}:${second}+01:00`,
    ...overrides,
  };
}

/**
 * Virtual time: sleeps pass at once (time jumps forward) until a test sets `autoSleep` false and
 * advances the clock itself. The wall clock starts at T0, the monotonic clock at M0, so a wall
 * reading used as a deadline (or the reverse) shows.
 */
export function virtualClock(): ManualClock {
  const clock = new ManualClock(T0, M0);
  clock.autoSleep = true;
  return clock;
}

export interface MemoryEntry extends PendingEntry {
  status: 0 | 1 | 2 | 3;
}

export class MemoryJournal implements DeliveryJournal {
  entries: MemoryEntry[] = [];
  writes: [SessionEvent, number][] = [];
  failPending = 0;
  failSetStatus = 0;

  constructor(events: SessionEvent[] = [], recovered = false) {
    for (const e of events) this.add(e, recovered);
  }

  add(e: SessionEvent, recovered = false): void {
    this.entries.push({ event: e, recovered, status: 0 });
  }

  pending(): PendingEntry[] {
    return this.entries.filter((e) => e.status === 0);
  }

  *pendingEntries(): IterableIterator<PendingEntry> {
    for (const entry of this.entries) if (entry.status === 0) yield entry;
  }

  oldestPending(): PendingEntry | undefined {
    if (this.failPending > 0) {
      this.failPending--;
      throw new Error("EBUSY: event_log.csv is locked");
    }
    return this.entries.find((e) => e.status === 0);
  }

  get pendingCount(): number {
    return this.entries.filter((e) => e.status === 0).length;
  }

  setStatus(entry: PendingEntry, status: 1 | 2 | 3): Promise<void> {
    if (this.failSetStatus > 0) {
      this.failSetStatus--;
      return Promise.reject(new Error("ENOSPC: no space left on device"));
    }
    (entry as MemoryEntry).status = status;
    this.writes.push([entry.event, status]);
    return Promise.resolve();
  }

  statuses(): number[] {
    return this.entries.map((e) => e.status);
  }
}

export type Reply =
  | HttpResponse
  | Error
  | ((body: string) => HttpResponse | Error | Promise<HttpResponse>);

/** The HTTP boundary: answers each post with the next scripted reply (default 201). */
export class ScriptedTransport {
  readonly origin = "https://192.168.27.1:8000";
  urlOf(path: string): string {
    return this.origin + path;
  }
  script: Reply[] = [];
  requests: { path: string; body: Record<string, unknown>; headers: Record<string, string> }[] = [];

  async post(
    path: string,
    body: string | undefined,
    headers: Record<string, string>,
  ): Promise<HttpResponse> {
    this.requests.push({ path, body: JSON.parse(body!), headers });
    const next = this.script.shift() ?? created();
    const reply = typeof next === "function" ? await next(body!) : next;
    if (reply instanceof Error) throw reply;
    return reply;
  }
}

export function response(
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): HttpResponse {
  return { status, headers, body: JSON.stringify(body) };
}

export function created(headers: Record<string, string> = {}): HttpResponse {
  return response(201, { message: "Event logged successfully", status: "success" }, headers);
}

export function setup(
  events: SessionEvent[],
  options: {
    recovered?: boolean;
    publicIp?: string;
    eventPath?: string;
    healthy?: () => boolean;
    probe?: () => void;
  } = {},
) {
  const clock = virtualClock();
  const journal = new MemoryJournal(events, options.recovered);
  const transport = new ScriptedTransport();
  const logs: [string, string][] = [];
  const states: number[] = [];
  const delivery = new Delivery(
    {
      journal,
      transport: () => transport,
      apiKey: () => API_KEY,
      clock,
      publicIp: () => options.publicIp,
      log: (level, message) => logs.push([level, message]),
      onStateChange: (s) => states.push(s.sent),
      eventPath: options.eventPath,
      healthy: options.healthy,
      probe: options.probe,
    } satisfies DeliveryOptions,
  );
  return { clock, journal, transport, logs, delivery, states };
}

/** Lets the drain loop run until `condition` holds (it only awaits promises, never real time). */
export async function until(condition: () => boolean, what = "condition"): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (condition()) return;
    await systemClock.sleep(0);
  }
  assert.fail(`timed out waiting for ${what}`);
}

export function assertNoKeyIn(logs: [string, string][]): void {
  for (const [, message] of logs) {
    assert.ok(!message.includes(API_KEY), `log line holds the API key: ${message}`);
    assert.ok(
      !message.includes(API_KEY.slice(4, -4)),
      `log line holds part of the key: ${message}`,
    );
  }
}
