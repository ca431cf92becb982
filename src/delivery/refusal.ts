/**
 * Whether a 4xx concerns its event (refused for good, status 3) or the setup (pause): the
 * reference server refuses an event only for what the event holds (an unparsable timestamp),
 * while a wrong server, a proxy or a wrong path prefix in front of a healthy server, or a key the
 * server cannot take refuse every request alike. A 4xx is proof against its event only once the
 * same setup (server_url and API key) accepts another event: until then the event is a suspect,
 * kept pending on its own backoff however long that takes. The same 4xx for a different event
 * means the setup; so does a 4xx while the health check fails.
 *
 * @module
 */
import type { Suspect } from "./types.ts";

/** Holds the suspects and judges each 4xx. */
export class RefusalJudge {
  #suspects = new Map<string, Suspect>();

  /**
   * A 4xx for `suspect.entry` came; `healthy`: the last health check passed. Returns why
   * sending pauses when the setup is at fault, else undefined (the event is a suspect).
   */
  rejected(suspect: Suspect, healthy: boolean): string | undefined {
    for (const [key, other] of this.#suspects) {
      if (other.setup !== suspect.setup) this.#suspects.delete(key);
    }
    const alike = [...this.#suspects.values()].some((other) =>
      other.key !== suspect.key && other.status === suspect.status
    );
    if (healthy && !alike) {
      this.#suspects.set(suspect.key, suspect);
      return undefined;
    }
    this.#suspects.clear();
    const { status, reason } = suspect;
    const why = healthy
      ? `answered ${status} to two different events (${reason})`
      : `answered ${status} (${reason}) while its health check fails`;
    return `The server ${why}: the setup, not the events, is at fault (a wrong server_url or path prefix, a proxy, an API key the server cannot take)`;
  }

  /**
   * The event `key` was accepted by `setup`: each suspect of another event that the same setup
   * answered concerned its own event (returned, to be refused). Suspects of another setup are
   * forgotten: they are tried again like any pending event.
   */
  accepted(key: string, setup: string): Suspect[] {
    const proven = [...this.#suspects.values()].filter((other) =>
      other.key !== key && other.setup === setup
    );
    this.#suspects.clear();
    return proven;
  }

  /** Forgets the suspects no longer pending (settled meanwhile, rotated away). */
  forgetAllBut(pending: ReadonlySet<string>): void {
    for (const key of this.#suspects.keys()) if (!pending.has(key)) this.#suspects.delete(key);
  }
}
