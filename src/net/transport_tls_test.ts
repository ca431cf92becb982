import assert from "node:assert/strict";
import {
  generateCaSignedCertificate,
  generateReferenceCertificate,
} from "../../tests/support/cert.ts";
import { fetchServerCertificate } from "./server_certificate.ts";
import { Transport, transportFor } from "./transport.ts";
import { ReferenceServer } from "../../tests/support/reference_server.ts";
import {
  API_KEY,
  assertNoKey,
  HEADERS,
  rejection,
  serve,
} from "../../tests/support/https_double.ts";

/** A raw TLS server that only counts the application bytes it receives and may answer once. */
function rawTlsServer(cert: string, key: string) {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const state = { received: 0, text: "", connections: 0 };
  const handlers: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      state.connections++;
      handlers.push((async () => {
        const buffer = new Uint8Array(4096);
        try {
          while (true) {
            const n = await conn.read(buffer);
            if (n === null) break;
            state.received += n;
            state.text += new TextDecoder().decode(buffer.subarray(0, n));
            if (state.text.includes("\r\n\r\n")) {
              await conn.write(
                new TextEncoder().encode(
                  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                ),
              );
              break;
            }
          }
        } catch {
          // The client hung up during or after the handshake.
        }
        try {
          conn.close();
        } catch { /* already closed */ }
      })());
    }
  })();
  return {
    state,
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      await accepting.catch(() => {});
      await Promise.all(handlers);
    },
  };
}

Deno.test("transport verifies a CA-signed certificate against tls_ca_file and posts", async () => {
  const cert = await generateCaSignedCertificate();
  const { server, seen, url } = serve({ cert: cert.certPem, key: cert.keyPem });
  const transport = new Transport(url, { caPem: cert.caPem });
  try {
    const response = await transport.post("/api/log_event", '{"a":"é"}', HEADERS);
    assert.equal(response.status, 201);
    assert.equal(response.headers["x-ratelimit-remaining"], "59");
    assert.equal(JSON.parse(response.body).message, "Event logged successfully");
    assert.equal(seen.length, 1);
    assert.equal(seen[0].method, "POST");
    assert.equal(seen[0].path, "/api/log_event");
    assert.equal(seen[0].body, '{"a":"é"}');
    assert.equal(seen[0].headers.get("x-api-key"), API_KEY);
    assert.equal(seen[0].headers.get("connection"), "keep-alive");
    assert.equal(seen[0].headers.get("content-type"), "application/json");
  } finally {
    transport.close();
    await server.shutdown();
  }
});

Deno.test("transport refuses a CA-signed certificate whose CA it was not given", async () => {
  const cert = await generateCaSignedCertificate();
  const { server, seen, url } = serve({ cert: cert.certPem, key: cert.keyPem });
  const transport = new Transport(url);
  try {
    const error = await rejection(transport.post("/api/log_event", "{}", HEADERS));
    assert.equal(error.code, "tls");
    assert.match(error.message, new RegExp(`The certificate of ${url} is not trusted: `));
    assert.match(error.message, /--pin-server-cert/);
    assertNoKey(error);
    assert.equal(seen.length, 0);
  } finally {
    transport.close();
    await server.shutdown();
  }
});

Deno.test("transport refuses the reference server's self-signed certificate by default", async () => {
  const cert = await generateReferenceCertificate({ bits: 2048 });
  const { server, seen, url } = serve({ cert: cert.certPem, key: cert.keyPem });
  const transport = new Transport(url);
  try {
    const error = await rejection(transport.post("/api/log_event", "{}", HEADERS));
    assert.equal(error.code, "tls");
    assert.match(error.message, /run|pin it with winagentUSM\.exe --pin-server-cert/);
    assertNoKey(error);
    assert.equal(seen.length, 0);
  } finally {
    transport.close();
    await server.shutdown();
  }
});

Deno.test("transport with tls_ca_file refuses a certificate that CA did not issue", async () => {
  const ca = await generateCaSignedCertificate();
  const cert = await generateReferenceCertificate({ bits: 2048 });
  const { server, seen, url } = serve({ cert: cert.certPem, key: cert.keyPem });
  const transport = new Transport(url, { caPem: ca.caPem });
  try {
    const error = await rejection(transport.post("/api/log_event", "{}", HEADERS));
    assert.equal(error.code, "tls");
    assert.equal(seen.length, 0);
  } finally {
    transport.close();
    await server.shutdown();
  }
});

Deno.test("transport accepts the reference server's certificate when pinned", async () => {
  const cert = await generateReferenceCertificate({ bits: 2048 });
  const { server, seen, url } = serve({ cert: cert.certPem, key: cert.keyPem });
  // Colons and upper case, as `openssl x509 -fingerprint` prints it, are accepted too.
  const printed = cert.sha256.toUpperCase().match(/../g)!.join(":");
  const transport = new Transport(url, { pinSha256: printed });
  try {
    const response = await transport.post("/api/log_event", "{}", HEADERS);
    assert.equal(response.status, 201);
    assert.equal(seen.length, 1);
  } finally {
    transport.close();
    await server.shutdown();
  }
});

Deno.test("transport with tls_insecure accepts any certificate", async () => {
  const cert = await generateReferenceCertificate({ bits: 2048 });
  const { server, seen, url } = serve({ cert: cert.certPem, key: cert.keyPem });
  const transport = new Transport(url, { insecure: true });
  try {
    assert.equal((await transport.post("/x", "{}", HEADERS)).status, 201);
    assert.equal(seen.length, 1);
  } finally {
    transport.close();
    await server.shutdown();
  }
});

Deno.test("transport with a mismatched pin sends no byte of the request", async (t) => {
  const cert = await generateReferenceCertificate({ bits: 2048 });
  await t.step("control: with the right pin the raw server sees the request", async () => {
    const raw = rawTlsServer(cert.certPem, cert.keyPem);
    const transport = new Transport(`https://127.0.0.1:${raw.port}`, { pinSha256: cert.sha256 });
    try {
      const response = await transport.post("/api/log_event", "{}", HEADERS);
      assert.equal(response.status, 200);
    } finally {
      transport.close();
      await raw.close();
    }
    assert.ok(raw.state.received > 0);
    assert.ok(raw.state.text.includes(API_KEY));
  });
  await t.step("with a wrong pin the handshake completes but nothing is written", async () => {
    const raw = rawTlsServer(cert.certPem, cert.keyPem);
    const wrong = "0".repeat(64);
    const transport = new Transport(`https://127.0.0.1:${raw.port}`, { pinSha256: wrong });
    try {
      const error = await rejection(transport.post("/api/log_event", "{}", HEADERS));
      assert.equal(error.code, "pin-mismatch");
      assert.ok(error.message.includes(cert.sha256), "names the fingerprint seen");
      assert.match(error.message, /--pin-server-cert/);
      assertNoKey(error);
    } finally {
      transport.close();
      await raw.close();
    }
    assert.equal(raw.state.connections, 1, "the TLS connection was made");
    assert.equal(raw.state.received, 0, "no application byte reached the server");
  });
});

Deno.test("transportFor reads tls_ca_file and verifies the server against it", async () => {
  const cert = await generateCaSignedCertificate();
  const { server, url } = serve({ cert: cert.certPem, key: cert.keyPem });
  const dir = await Deno.makeTempDir();
  const caFile = `${dir}/ca.pem`;
  await Deno.writeTextFile(caFile, cert.caPem);
  const transport = transportFor({
    serverUrl: url,
    tlsCaFile: caFile,
    tlsCaStore: "mozilla",
    tlsServerSha256: "",
    tlsInsecure: false,
  });
  try {
    const response = await transport.post("/api/log_event", "{}", HEADERS);
    assert.equal(response.status, 201);
  } finally {
    transport.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("transportFor reports an unreadable tls_ca_file instead of using the default roots", () => {
  const settings = {
    serverUrl: "https://127.0.0.1:9",
    tlsCaFile: "/nonexistent/ca.pem",
    tlsCaStore: "mozilla" as const,
    tlsServerSha256: "",
    tlsInsecure: false,
  };
  assert.throws(() => transportFor(settings), /Cannot read tls_ca_file \/nonexistent\/ca\.pem: /);
  transportFor(settings, { caPem: "already read" }).close();
  assert.throws(
    () => transportFor({ ...settings, tlsCaFile: "", serverUrl: "" }),
    TypeError,
  );
});

Deno.test("fetchServerCertificate describes the certificate a server presents", async (t) => {
  await t.step("the reference server's kind: self-signed", async () => {
    const cert = await generateReferenceCertificate({ bits: 2048 });
    const { server, seen, url } = serve({ cert: cert.certPem, key: cert.keyPem });
    try {
      const found = await fetchServerCertificate(url);
      assert.equal(found.sha256, cert.sha256);
      assert.equal(found.subject, "CN=localhost");
      assert.equal(found.issuer, "CN=localhost");
      assert.equal(found.selfSigned, true);
      assert.match(found.validTo, /GMT$/);
      assert.ok(!Number.isNaN(Date.parse(found.validFrom)));
      assert.equal(seen.length, 0, "no request is sent");
    } finally {
      await server.shutdown();
    }
  });
  await t.step("a CA-signed one", async () => {
    const cert = await generateCaSignedCertificate();
    const { server, url } = serve({ cert: cert.certPem, key: cert.keyPem });
    try {
      const found = await fetchServerCertificate(url);
      assert.equal(found.sha256, cert.sha256);
      assert.equal(found.issuer, "CN=USM Test CA");
      assert.equal(found.selfSigned, false);
    } finally {
      await server.shutdown();
    }
  });
  await t.step("an http URL or a server that is down", async () => {
    assert.throws(() => fetchServerCertificate("http://127.0.0.1:1"), /not an https URL/);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const error = await rejection(fetchServerCertificate(`https://127.0.0.1:${port}`));
    assert.equal(error.code, "network");
  });
});

Deno.test("transport resumes the TLS session when the server closes every connection", async () => {
  await using server = await ReferenceServer.start({ apiKeys: ["k"], certBits: 2048 });
  const transport = new Transport(server.url, { pinSha256: server.certificate!.sha256 });
  try {
    for (let i = 0; i < 3; i++) {
      const answer = await transport.post("/api/health", undefined, { "X-API-Key": "k" });
      assert.equal(answer.status, 200);
    }
    const connections = new Set(server.requests().map((r) => r.connectionId));
    assert.equal(connections.size, 3, "Connection: close: one connection per request");
    assert.equal(transport.resumedHandshakes, 2, "the 2nd and 3rd handshakes resumed the 1st");
  } finally {
    transport.close();
  }
});
