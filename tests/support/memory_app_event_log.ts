/**
 * A system event log that keeps its entries in memory, for the tests of what the agent writes
 * to the Windows Application log.
 *
 * @module
 */
import type { SystemEvent } from "../../src/log/app_event_log.ts";
import type { EventLevel, SystemEventLog } from "../../src/platform.ts";

/** Keeps every entry it is given, in order. */
export class MemoryEventLog implements SystemEventLog {
  readonly entries: SystemEvent[] = [];

  report(id: number, level: EventLevel, text: string): void {
    this.entries.push({ id, level, text });
  }
}
