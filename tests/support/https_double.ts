/**
 * What the transport's unit tests share: an HTTPS server on 127.0.0.1 that records what it
 * receives, and checks of a rejection and that an error holds no API key.
 *
 * @module
 */
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { TransportError } from "../../src/net/transport_error.ts";

export const API_KEY = "k3y5ecretABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
export const HEADERS = { "X-API-Key": API_KEY, "Content-Type": "application/json" };

export interface Seen {
  method: string;
  path: string;
  headers: Headers;
  body: string;
  remotePort: number;
}

/** A Deno.serve HTTPS (or HTTP) server on 127.0.0.1 that records what it receives. */
export function serve(
  tls: { cert: string; key: string } | undefined,
  answer: (seen: Seen) => Response | Promise<Response> = () =>
    Response.json({ message: "Event logged successfully", status: "success" }, {
      status: 201,
      headers: { "X-RateLimit-Remaining": "59" },
    }),
) {
  const seen: Seen[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    ...(tls ?? {}),
  }, async (request, info) => {
    const record: Seen = {
      method: request.method,
      path: new URL(request.url).pathname,
      headers: request.headers,
      body: await request.text(),
      remotePort: info.remoteAddr.port,
    };
    seen.push(record);
    return answer(record);
  });
  const scheme = tls ? "https" : "http";
  return { server, seen, url: `${scheme}://127.0.0.1:${server.addr.port}` };
}

export async function rejection(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TransportError, `expected a TransportError, got ${error}`);
    return error;
  }
  assert.fail("expected the request to fail");
}

export function assertNoKey(error: unknown): void {
  const text = inspect(error, { depth: 10 }) + String((error as Error).stack);
  assert.ok(!text.includes(API_KEY), "the error must not contain the API key");
  assert.ok(!text.includes(API_KEY.slice(4, 20)), "the error must not contain part of the key");
}
