import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { exchange, HttpParseError, MAX_BODY_BYTES, NoAnswerError, requestBytes } from "./http1.ts";

/** A socket whose answer is `parts`, each pushed in its own turn; `end` ends it after them. */
function socketAnswering(parts: (string | Uint8Array)[], end = false) {
  const written: Uint8Array[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk, _encoding, callback) {
      written.push(chunk);
      callback();
      (async () => {
        for (const part of parts) {
          await new Promise((resolve) => setTimeout(resolve, 0));
          socket.push(typeof part === "string" ? new TextEncoder().encode(part) : part);
        }
        if (end) socket.push(null);
      })();
    },
  });
  return { socket, written };
}

const REQUEST = requestBytes("POST /api/log_event HTTP/1.1", { Host: "h" }, undefined);

Deno.test("requestBytes writes the head, Content-Length and body", () => {
  const bytes = requestBytes("POST /x HTTP/1.1", { Host: "a:1" }, new TextEncoder().encode("{}"));
  assert.equal(
    new TextDecoder().decode(bytes),
    "POST /x HTTP/1.1\r\nHost: a:1\r\nContent-Length: 2\r\n\r\n{}",
  );
  assert.throws(
    () => requestBytes("POST / HTTP/1.1", { "X-A": "a\r\nX-B: b" }, undefined),
    TypeError,
  );
});

Deno.test("exchange reads answers of every shape the agent may meet", async (t) => {
  const cases: [string, (string | Uint8Array)[], boolean, number, string, boolean][] = [
    [
      "by Content-Length, in pieces",
      ["HTTP/1.1 201 CREATED\r\nContent-Le", "ngth: 2\r\n\r\n{", "}"],
      false,
      201,
      "{}",
      true,
    ],
    [
      "Connection: close",
      ["HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"],
      false,
      200,
      "ok",
      false,
    ],
    [
      "HTTP/1.0 without keep-alive",
      ["HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"],
      false,
      200,
      "ok",
      false,
    ],
    [
      "chunked",
      [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n",
        "3;x=y\r\n!!!\r\n0\r\n\r\n",
      ],
      false,
      200,
      "ok!!!",
      true,
    ],
    ["until the end of the connection", ["HTTP/1.1 500 ERR\r\n\r\nbody"], true, 500, "body", false],
    [
      "after a 100 Continue",
      ["HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 CREATED\r\nContent-Length: 0\r\n\r\n"],
      false,
      201,
      "",
      true,
    ],
    [
      "bytes past the length",
      ["HTTP/1.1 201 CREATED\r\nContent-Length: 2\r\n\r\nokEXTRA"],
      false,
      201,
      "ok",
      false,
    ],
  ];
  for (const [name, parts, end, status, body, reusable] of cases) {
    await t.step(name, async () => {
      const { socket, written } = socketAnswering(parts, end);
      const result = await exchange(socket, REQUEST);
      assert.equal(result.response.status, status);
      assert.equal(result.response.body, body);
      assert.equal(result.reusable, reusable);
      assert.equal(written.length, 1);
      socket.destroy();
    });
  }
  await t.step("repeated headers are joined, names lower-cased", async () => {
    const { socket } = socketAnswering([
      "HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n",
    ]);
    const { response } = await exchange(socket, REQUEST);
    assert.equal(response.headers["x-a"], "1, 2");
    socket.destroy();
  });
  await t.step("a long body is cut at MAX_BODY_BYTES and the connection not reused", async () => {
    const big = new Uint8Array(MAX_BODY_BYTES + 10).fill(120);
    const { socket } = socketAnswering([
      `HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`,
      big,
    ]);
    const result = await exchange(socket, REQUEST);
    assert.equal(result.response.body.length, MAX_BODY_BYTES);
    assert.equal(result.reusable, false);
    socket.destroy();
  });
});

Deno.test("exchange refuses what is not an HTTP answer", async (t) => {
  const cases: [string, (string | Uint8Array)[], boolean, new (...args: never[]) => Error][] = [
    ["closed before any byte", [], true, NoAnswerError],
    ["not HTTP", ["SSH-2.0-OpenSSH\r\n\r\n"], false, HttpParseError],
    ["headers cut by the end", ["HTTP/1.1 200 OK\r\nContent-"], true, HttpParseError],
    [
      "body cut by the end",
      ["HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nok"],
      true,
      HttpParseError,
    ],
    ["a bad length", ["HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"], false, HttpParseError],
    [
      "a bad chunk",
      ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
      false,
      HttpParseError,
    ],
    ["endless headers", ["HTTP/1.1 200 OK\r\n", `X: ${"a".repeat(70_000)}`], false, HttpParseError],
  ];
  for (const [name, parts, end, kind] of cases) {
    await t.step(name, async () => {
      const { socket } = socketAnswering(parts, end);
      await assert.rejects(exchange(socket, REQUEST), kind);
      socket.destroy();
    });
  }
});
