/**
 * `--api-key -` typed at a terminal: the key is read without echo (the terminal in raw mode),
 * so it never stands on the screen; from a pipe it is read as the first line, as before.
 *
 * @module
 */

/** The part of `Deno.stdin` the prompt uses. */
export interface TerminalInput {
  isTerminal(): boolean;
  setRaw(mode: boolean): void;
  read(buffer: Uint8Array): Promise<number | null>;
}

const ENTER = new Set([0x0d, 0x0a]);
const BACKSPACE = new Set([0x08, 0x7f]);
/** Ctrl+C and Ctrl+D: give up (raw mode turns Ctrl+C into a byte, not a signal). */
const CANCEL = new Set([0x03, 0x04]);

/**
 * Reads one line from the terminal without echoing it. `prompt` is written first (to the
 * console's error stream, so standard output stays clean); a newline after Enter. Throws a
 * TypeError when the reading was cancelled with Ctrl+C or Ctrl+D.
 */
export async function readHidden(
  input: TerminalInput,
  write: (text: string) => void,
  prompt: string,
): Promise<string> {
  const bytes: number[] = [];
  const buffer = new Uint8Array(256);
  input.setRaw(true); // before the prompt: a key typed at once is not echoed either
  try {
    write(prompt);
    while (true) {
      const n = await input.read(buffer);
      if (n === null) break;
      for (const byte of buffer.subarray(0, n)) {
        if (ENTER.has(byte)) return new TextDecoder().decode(new Uint8Array(bytes));
        if (CANCEL.has(byte)) throw new TypeError("No API key read: cancelled at the terminal");
        if (BACKSPACE.has(byte)) bytes.pop();
        else bytes.push(byte);
      }
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  } finally {
    input.setRaw(false);
    write("\n");
  }
}
