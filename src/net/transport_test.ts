import assert from "node:assert/strict";
import { generateCaSignedCertificate } from "../../tests/support/cert.ts";
import { Transport } from "./transport.ts";
import {
  API_KEY,
  assertNoKey,
  HEADERS,
  rejection,
  serve,
} from "../../tests/support/https_double.ts";

Deno.test("transport sends a POST without a body with Content-Length 0", async () => {
  const cert = await generateCaSignedCertificate();
  const { server, seen, url } = serve({ cert: cert.certPem, key: cert.keyPem });
  const transport = new Transport(url, { caPem: cert.caPem });
  try {
    const response = await transport.post("/api/health", undefined, { "X-API-Key": API_KEY });
    assert.equal(response.status, 201);
    assert.equal(seen[0].headers.get("content-length"), "0");
    assert.equal(seen[0].body, "");
  } finally {
    transport.close();
    await server.shutdown();
  }
});

Deno.test("transport reuses one kept-alive connection for consecutive requests", async () => {
  const cert = await generateCaSignedCertificate();
  const { server, seen, url } = serve({ cert: cert.certPem, key: cert.keyPem });
  const transport = new Transport(url, { caPem: cert.caPem });
  try {
    for (let i = 0; i < 5; i++) {
      assert.equal((await transport.post("/api/log_event", `{"n":${i}}`, HEADERS)).status, 201);
    }
    // Concurrent posts queue on the single connection.
    await Promise.all([1, 2, 3].map((n) => transport.post("/p", `{"c":${n}}`, HEADERS)));
    assert.equal(seen.length, 8);
    assert.equal(new Set(seen.map((s) => s.remotePort)).size, 1, "one client port for all");
  } finally {
    transport.close();
    await server.shutdown();
  }
});

Deno.test("transport retries once on a fresh connection when a kept-alive one was dropped", async () => {
  // Answers the first request of each connection with keep-alive, then closes the connection
  // when a second request arrives on it, without answering: a server that timed out an idle
  // connection just as the client reused it. Deno's node:http client resends such a request on
  // a new connection by itself; this test holds it to that.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: number[] = [];
  const handlers: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      const id = connections.push(0);
      handlers.push((async () => {
        const buffer = new Uint8Array(8192);
        let text = "";
        try {
          while (true) {
            const n = await conn.read(buffer);
            if (n === null) break;
            text += new TextDecoder().decode(buffer.subarray(0, n));
            if (!text.includes("\r\n\r\n")) continue;
            connections[id - 1]++;
            if (connections[id - 1] > 1) break;
            text = "";
            await conn.write(new TextEncoder().encode(
              "HTTP/1.1 201 CREATED\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
            ));
          }
        } catch { /* reset by the client */ }
        conn.close();
      })());
    }
  })();
  const transport = new Transport(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
  try {
    assert.equal((await transport.post("/a", undefined, HEADERS)).status, 201);
    assert.equal((await transport.post("/b", undefined, HEADERS)).status, 201);
    assert.deepEqual(connections, [2, 1], "the dropped request went again on a new connection");
  } finally {
    transport.close();
    listener.close();
    await accepting.catch(() => {});
    await Promise.all(handlers);
  }
});

Deno.test("transport keeps the server_url path prefix and works over plain http", async () => {
  const { server, seen, url } = serve(undefined);
  const transport = new Transport(`${url}/usm/`);
  try {
    assert.equal((await transport.post("/api/log_event", "{}", HEADERS)).status, 201);
    assert.equal(seen[0].path, "/usm/api/log_event");
  } finally {
    transport.close();
    await server.shutdown();
  }
});

Deno.test("transport times out a request that gets no answer", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const { server, url } = serve(undefined, async () => {
    await released;
    return new Response("late");
  });
  const transport = new Transport(url, { timeoutMs: 200 });
  try {
    const error = await rejection(transport.post("/api/log_event", "{}", HEADERS));
    assert.equal(error.code, "timeout");
    assert.match(error.message, new RegExp(`No answer from ${url} within 0.2 s`));
    assertNoKey(error);
  } finally {
    release();
    transport.close();
    await server.shutdown();
  }
});

Deno.test("transport times out a TLS handshake that never completes", async () => {
  // Accepts TCP connections and never says a word.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  const url = `https://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  const transport = new Transport(url, { timeoutMs: 200, pinSha256: "a".repeat(64) });
  try {
    const error = await rejection(transport.post("/api/log_event", "{}", HEADERS));
    assert.equal(error.code, "timeout");
    assertNoKey(error);
  } finally {
    transport.close();
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});

Deno.test("transport reports a server that is down as a network error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  for (const scheme of ["https", "http"]) {
    const transport = new Transport(`${scheme}://127.0.0.1:${port}`);
    try {
      const error = await rejection(transport.post("/api/log_event", "{}", HEADERS));
      assert.equal(error.code, "network");
      assert.match(error.message, new RegExp(`Cannot reach ${scheme}://127.0.0.1:${port}: `));
      assert.ok(error.cause instanceof Error);
      assertNoKey(error);
    } finally {
      transport.close();
    }
  }
});

Deno.test("transport close is idempotent and refuses later requests", async () => {
  const transport = new Transport("http://127.0.0.1:9");
  transport.close();
  transport.close();
  const error = await rejection(transport.post("/x", undefined, HEADERS));
  assert.equal(error.code, "network");
});

Deno.test("transport rejects a bad server_url or pin with a TypeError", () => {
  assert.throws(() => new Transport("192.168.1.1:8000x"), TypeError);
  assert.throws(() => new Transport("ftp://host"), /scheme must be https or http/);
  assert.throws(
    () => new Transport("https://host", { pinSha256: "abc" }),
    /Invalid tls_server_sha256: expected 64 hexadecimal digits/,
  );
});

Deno.test("urlOf names the URL a request goes to, server_url's path prefix included", () => {
  for (
    const [base, url] of [
      ["https://192.168.27.1:8000", "https://192.168.27.1:8000/api/log_event"],
      ["https://host:8000/usm/", "https://host:8000/usm/api/log_event"],
      ["http://host/a/b", "http://host/a/b/api/log_event"],
    ]
  ) {
    const transport = new Transport(base);
    try {
      assert.equal(transport.urlOf("/api/log_event"), url);
    } finally {
      transport.close();
    }
  }
});

Deno.test("transport says whether a failed request was written", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const refused = new Transport(`http://127.0.0.1:${port}`);
  try {
    const error = await rejection(refused.post("/api/log_event", "{}", HEADERS));
    assert.equal(error.requestSent, false, "a refused connection: nothing left");
  } finally {
    refused.close();
  }
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const { server, url } = serve(undefined, async () => {
    await released;
    return new Response("late");
  });
  const silent = new Transport(url, { timeoutMs: 200 });
  try {
    const error = await rejection(silent.post("/api/log_event", "{}", HEADERS));
    assert.equal(error.code, "timeout");
    assert.equal(error.requestSent, true, "written, then no answer: the server may have it");
  } finally {
    release();
    silent.close();
    await server.shutdown();
  }
});
