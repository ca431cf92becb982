/**
 * The one redaction point of the process. Every output passes {@link redact}: log lines
 * (src/log/log.ts), status.json (src/status/status.ts), the command's messages and errors (src/cli/cli.ts), and
 * the server's answer text quoted in a health result (src/delivery/health.ts).
 *
 * The redactor learns a secret the moment it is read, whatever its source: the `--api-key` flag
 * (src/cli/args.ts), standard input (`--api-key -`), config.ini's `api_key` line as soon as the
 * file is parsed (before any other key is checked, so a key pasted into another key is masked in
 * that key's error too), and a value given to a misspelt key flag (`--api_key=...`).
 *
 * A value echoed back from a bad flag or a bad setting that merely looks like a key (long, one
 * word of letters and digits) is masked by {@link maskKeyLike} even when no key was learned.
 *
 * Process-wide on purpose: a secret read by the command line must be masked by the logs and the
 * status file that other parts write later, and no path may bypass it by holding its own copy.
 *
 * @module
 */

/** Masks a secret for display: "" → "(not set)", 12 characters or fewer fully, else first4…last4. */
export function maskSecret(key: string): string {
  if (key === "") return "(not set)";
  if (key.length <= 12) return "********";
  return `${key.slice(0, 4)}…${key.slice(-4)}`;
}

/** Secrets shorter than this are not masked inside other text (they would mask ordinary words). */
const MIN_SECRET_LENGTH = 4;

/** A start or end of a secret this long or longer is masked too. */
const MIN_PART_LENGTH = 12;

/** Replaces every secret it was told about by its masked form. */
export class Redactor {
  #secrets = new Set<string>();

  /** Remembers `secret` (trimmed) to mask in every later output. */
  add(secret: string | undefined): void {
    const value = secret?.trim() ?? "";
    if (value.length >= MIN_SECRET_LENGTH) this.#secrets.add(value);
  }

  /**
   * The text with every known secret masked, longest first (a key that holds another), and
   * any start or end of a secret of {@link MIN_PART_LENGTH} characters or more (a key pasted
   * into a setting shown shortened, such as a certificate pin's first 16 digits).
   */
  apply(text: string): string {
    let out = text;
    const secrets = [...this.#secrets].sort((a, b) => b.length - a.length);
    for (const secret of secrets) {
      if (out.includes(secret)) out = out.replaceAll(secret, maskSecret(secret));
      for (let n = secret.length - 1; n >= MIN_PART_LENGTH; n--) {
        const head = secret.slice(0, n);
        const tail = secret.slice(-n);
        if (out.includes(head)) out = out.replaceAll(head, `${secret.slice(0, 4)}…`);
        if (out.includes(tail)) out = out.replaceAll(tail, `…${secret.slice(-4)}`);
      }
    }
    return out;
  }

  /** Forgets every secret (tests). */
  clear(): void {
    this.#secrets.clear();
  }
}

/** The process's redactor. */
export const redactor: Redactor = new Redactor();

/** Remembers a secret (the API key) from the moment it is read. */
export function learnSecret(secret: string | undefined): void {
  redactor.add(secret);
}

/** `text` with every known secret masked: what every output passes. */
export function redact(text: string): string {
  return redactor.apply(text);
}

/**
 * One word of 20 or more letters, digits, `-`, `_` or `+`, holding both a letter and a
 * digit: the shape of an API key (the server's are 64 hexadecimal digits). A dot ends a word,
 * so host names and file names are not taken for keys.
 */
const KEY_LIKE = /[A-Za-z0-9_\-+]{20,}/g;

/** Whether `word` has the shape of an API key. */
export function looksLikeKey(word: string): boolean {
  return /^[A-Za-z0-9_\-+]{20,}$/.test(word) && /[0-9]/.test(word) && /[A-Za-z]/.test(word);
}

/**
 * A value echoed back from bad input, with known secrets masked and every word that has the
 * shape of a key masked too (the key given to a misspelt flag or pasted into another setting).
 */
export function maskKeyLike(value: string): string {
  return redact(value).replace(KEY_LIKE, (word) => looksLikeKey(word) ? maskSecret(word) : word);
}
