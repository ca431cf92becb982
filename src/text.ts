/**
 * Small text helpers shared by the core, the tests and the scripts: one line splitter for
 * streams, one way to turn a thrown value into a message, one parser of a JSON object.
 *
 * @module
 */

/** The message of a thrown value: an Error's message, anything else as a string. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Splits a byte stream into lines (LF, CRLF or a lone CR end a line; the ends are not kept).
 * A last line without an end is yielded when the stream ends. Decoding is UTF-8; invalid bytes
 * become U+FFFD.
 */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let start = 0;
      for (let i = 0; i < buffered.length; i++) {
        const c = buffered[i];
        if (c !== "\n" && c !== "\r") continue;
        // a CR at the very end may be the first half of a CRLF: wait for the next chunk
        if (c === "\r" && i === buffered.length - 1) break;
        yield buffered.slice(start, i);
        if (c === "\r" && buffered[i + 1] === "\n") i++;
        start = i + 1;
      }
      buffered = buffered.slice(start);
    }
    if (buffered.endsWith("\r")) buffered = buffered.slice(0, -1);
    if (buffered !== "") yield buffered;
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * Parses `text` as a JSON object.
 * @throws {TypeError} Saying "not JSON: ..." or "not a JSON object".
 */
export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TypeError(`not JSON: ${errorText(error)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError("not a JSON object");
  }
  return value as Record<string, unknown>;
}
