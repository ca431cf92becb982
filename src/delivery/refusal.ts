/**
 * Whether a 4xx concerns its event (refused for good, status 3) or the setup (pause): the
 * reference server refuses an event only for what the event holds (an unparsable timestamp),
 * while a wrong server, a proxy or a key the server cannot take refuse every request alike.
 * So a 4xx is kept as a suspect until another event's answer tells: another event accepted
 * means the 4xx concerned its own event; the same 4xx for a different event means the setup.
 * A 4xx while the health check fails is the setup's.
 *
 * @module
 */
import type { Suspect } from "./types.ts";

/** What to do about a 4xx: pause (the setup's), and/or refuse an earlier suspect now. */
export interface Verdict {
  /** Why sending pauses, when the setup is at fault. */
  pause?: string;
  /** An earlier suspect that another event's answer cleared of the setup: refuse it. */
  refuse?: Suspect;
}

/** Holds the suspect and judges each 4xx. */
export class RefusalJudge {
  #suspect: Suspect | undefined;

  /** The event key kept as a suspect, if any. */
  get suspectKey(): string | undefined {
    return this.#suspect?.key;
  }

  /** A 4xx for `suspect.entry` came; `healthy`: the last health check passed. */
  rejected(suspect: Suspect, healthy: boolean): Verdict {
    const previous = this.#suspect;
    const another = previous !== undefined && previous.key !== suspect.key;
    if (!healthy || (another && previous.status === suspect.status)) {
      this.#suspect = undefined;
      const { status, reason } = suspect;
      const why = healthy
        ? `answered ${status} to two different events in a row (${reason})`
        : `answered ${status} (${reason}) while its health check fails`;
      return {
        pause:
          `The server ${why}: the setup, not the events, is at fault (a wrong server_url, a proxy, an API key the server cannot take)`,
      };
    }
    this.#suspect = suspect;
    return another ? { refuse: previous } : {};
  }

  /** The event `key` was accepted: a suspect of another event concerned its own event. */
  accepted(key: string): Suspect | undefined {
    const suspect = this.#suspect;
    if (suspect === undefined || suspect.key === key) return undefined;
    this.#suspect = undefined;
    return suspect;
  }

  /** No other event is left to compare with: the suspect is refused on its health check. */
  take(): Suspect | undefined {
    const suspect = this.#suspect;
    this.#suspect = undefined;
    return suspect;
  }
}
