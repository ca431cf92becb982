/**
 * One HTTP/1.1 exchange on a socket the caller opened: writes a request, reads its answer
 * (status line, headers, a body by Content-Length, chunks, or up to the end of the connection)
 * and says whether the connection may carry the next request.
 *
 * The agent speaks HTTP itself on its own `node:tls` socket rather than through `node:http`:
 * Deno's `node:http` client hands the socket over to its native HTTP client, after which
 * destroying the socket no longer closes the connection (a stalled answer's connection stayed
 * open, and the timed-out request was sent again by itself on a new one: checked on Deno 2.9.6).
 * Here the socket stays the agent's: destroying it ends the exchange at whatever stage.
 *
 * @module
 */
import type { Duplex } from "node:stream";

/** One answer of the server. */
export interface HttpResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

/** Answers are read up to this size, then the connection is dropped (the server's are a few hundred bytes). */
export const MAX_BODY_BYTES = 1024 * 1024;
/** A status line and headers longer than this are not an answer of the server. */
export const MAX_HEAD_BYTES = 64 * 1024;

/** What {@link exchange} returns: the answer, and whether the connection may be reused. */
export interface Exchanged {
  response: HttpResponse;
  reusable: boolean;
}

/** The answer was not HTTP (the message says how); the connection cannot be reused. */
export class HttpParseError extends Error {
  override name = "HttpParseError";
}

/** The connection ended before any byte of the answer came (a kept-alive one the server closed). */
export class NoAnswerError extends Error {
  override name = "NoAnswerError";
}

/** The bytes of a request: its head (request line and headers) and body. */
export function requestBytes(
  line: string,
  headers: Record<string, string>,
  body: Uint8Array | undefined,
): Uint8Array {
  let head = `${line}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(name + value)) {
      throw new TypeError(`Invalid header ${name}: it holds a line break`);
    }
    head += `${name}: ${value}\r\n`;
  }
  const headBytes = new TextEncoder().encode(
    `${head}Content-Length: ${body?.byteLength ?? 0}\r\n\r\n`,
  );
  const bytes = new Uint8Array(headBytes.byteLength + (body?.byteLength ?? 0));
  bytes.set(headBytes);
  if (body) bytes.set(body, headBytes.byteLength);
  return bytes;
}

interface Head {
  status: number;
  headers: Record<string, string>;
  /** HTTP/1.0, or `Connection: close`: the server ends the connection after this answer. */
  closes: boolean;
}

function parseHead(text: string): Head {
  const [line, ...fields] = text.split("\r\n");
  const match = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(line);
  if (!match) {
    throw new HttpParseError(`the answer is not HTTP/1.1: it starts with "${line.slice(0, 40)}"`);
  }
  const headers: Record<string, string> = {};
  for (const field of fields) {
    const colon = field.indexOf(":");
    if (colon <= 0) throw new HttpParseError(`malformed header line "${field.slice(0, 40)}"`);
    const name = field.slice(0, colon).trim().toLowerCase();
    const value = field.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const connection = (headers["connection"] ?? "").toLowerCase();
  return {
    status: Number(match[2]),
    headers,
    closes: connection.includes("close") ||
      (match[1] === "0" && !connection.includes("keep-alive")),
  };
}

/** Decodes a chunked body from `bytes`; undefined while incomplete. */
function dechunk(bytes: Uint8Array, limit: number): { body: Uint8Array; cut: boolean } | undefined {
  const parts: Uint8Array[] = [];
  let size = 0;
  let offset = 0;
  while (true) {
    const end = indexOfCrlf(bytes, offset);
    if (end < 0) return undefined;
    const line = new TextDecoder().decode(bytes.subarray(offset, end)).split(";")[0].trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(line)) {
      throw new HttpParseError(`malformed chunk size "${line}"`);
    }
    const length = parseInt(line, 16);
    offset = end + 2;
    if (length === 0) return { body: concat(parts, size), cut: false };
    const part = bytes.subarray(offset, Math.min(offset + length, bytes.byteLength));
    parts.push(part);
    size += part.byteLength;
    if (size >= limit) return { body: concat(parts, size).subarray(0, limit), cut: true };
    if (offset + length + 2 > bytes.byteLength) return undefined;
    offset += length + 2;
  }
}

function indexOfCrlf(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 1 < bytes.byteLength; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10) return i;
  }
  return -1;
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

/** Reads the answer from the bytes received so far; undefined while it is incomplete. */
class AnswerReader {
  #buffer: Uint8Array = new Uint8Array(0);
  #head: Head | undefined;
  #bodyStart = 0;

  get started(): boolean {
    return this.#buffer.byteLength > 0;
  }

  push(chunk: Uint8Array): Exchanged | undefined {
    this.#buffer = concat([this.#buffer, chunk], this.#buffer.byteLength + chunk.byteLength);
    if (this.#head === undefined) {
      const text = new TextDecoder("latin1").decode(this.#buffer.subarray(0, MAX_HEAD_BYTES + 4));
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) {
        if (this.#buffer.byteLength > MAX_HEAD_BYTES) {
          throw new HttpParseError(`the answer's headers are longer than ${MAX_HEAD_BYTES} bytes`);
        }
        return undefined;
      }
      const head = parseHead(text.slice(0, end));
      this.#buffer = this.#buffer.subarray(end + 4);
      // An interim answer (100 Continue and the like): the real one follows.
      if (head.status >= 100 && head.status < 200) return this.push(new Uint8Array(0));
      this.#head = head;
    }
    return this.#body(false);
  }

  /** The connection ended: the answer as far as it came, when it is complete by then. */
  ended(): Exchanged | undefined {
    if (this.#head === undefined) return undefined;
    return this.#body(true);
  }

  #body(ended: boolean): Exchanged | undefined {
    const head = this.#head!;
    const bytes = this.#buffer.subarray(this.#bodyStart);
    const answer = (body: Uint8Array, reusable: boolean): Exchanged => ({
      response: {
        status: head.status,
        headers: head.headers,
        body: new TextDecoder().decode(body),
      },
      reusable,
    });
    if (head.status === 204 || head.status === 304) return answer(new Uint8Array(0), !head.closes);
    if (/chunked/i.test(head.headers["transfer-encoding"] ?? "")) {
      const decoded = dechunk(bytes, MAX_BODY_BYTES);
      if (decoded) return answer(decoded.body, !decoded.cut && !head.closes);
      if (ended) throw new HttpParseError("the connection ended inside a chunked answer");
      return undefined;
    }
    const lengthText = head.headers["content-length"];
    if (lengthText !== undefined) {
      const length = Number(lengthText);
      if (!/^\d+$/.test(lengthText) || !Number.isSafeInteger(length)) {
        throw new HttpParseError(`invalid Content-Length "${lengthText.slice(0, 40)}"`);
      }
      const wanted = Math.min(length, MAX_BODY_BYTES);
      if (bytes.byteLength >= wanted) {
        // Bytes past the announced length are no answer to anything: the connection is done.
        const exact = length <= MAX_BODY_BYTES && bytes.byteLength === length;
        return answer(bytes.subarray(0, wanted), exact && !head.closes);
      }
      if (ended) throw new HttpParseError("the connection ended before the whole answer came");
      return undefined;
    }
    // No length: the body ends with the connection.
    if (bytes.byteLength >= MAX_BODY_BYTES) return answer(bytes.subarray(0, MAX_BODY_BYTES), false);
    return ended ? answer(bytes, false) : undefined;
  }
}

/**
 * Writes `request` on `socket` and resolves with the answer. Rejects with {@link NoAnswerError}
 * when the connection ends before any byte of the answer, with {@link HttpParseError} when the
 * answer is not HTTP, and with the socket's error. The caller bounds the time (by destroying
 * the socket) and destroys the socket unless the answer says it is reusable.
 */
export function exchange(socket: Duplex, request: Uint8Array): Promise<Exchanged> {
  return new Promise<Exchanged>((resolve, reject) => {
    const reader = new AnswerReader();
    const settle = (error: unknown, result?: Exchanged) => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.off("error", onError);
      if (result) resolve(result);
      else reject(error);
    };
    const onData = (chunk: Uint8Array) => {
      try {
        const result = reader.push(chunk);
        if (result) settle(null, result);
      } catch (error) {
        settle(error);
      }
    };
    const onEnd = () => {
      try {
        const result = reader.ended();
        if (result) return settle(null, { ...result, reusable: false });
        settle(
          reader.started
            ? new HttpParseError("the connection ended inside the answer's headers")
            : new NoAnswerError("the connection was closed before an answer came"),
        );
      } catch (error) {
        settle(error);
      }
    };
    const onError = (error: Error) => settle(error);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("error", onError);
    socket.write(request);
  });
}
