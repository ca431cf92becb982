import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import * as https from "node:https";
import * as tls from "node:tls";
import { generateCaSignedCertificate, generateReferenceCertificate } from "./cert.ts";
import {
  DEFAULT_API_KEY,
  flaskJson,
  parseReferenceTimestamp,
  ReferenceServer,
  type ReferenceServerOptions,
} from "./reference_server.ts";

const EVENT = {
  EventType: "Logon",
  UserName: "josh",
  ComputerName: "DESKTOP-5D51HM9",
  LocalIP: "192.168.66.34",
  IPAddress: "192.168.66.34",
  PublicIP: "203.0.113.7",
  Timestamp: "2025-04-27T08:06:14+01:00",
  retry: 0,
};

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

interface PostOptions {
  key?: string | null;
  body?: unknown;
  rawBody?: BodyInit;
  headers?: Record<string, string>;
  client?: Deno.HttpClient;
  method?: string;
}

async function post(server: ReferenceServer, path: string, options: PostOptions = {}) {
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    ...options.headers,
  };
  const key = options.key === undefined ? DEFAULT_API_KEY : options.key;
  if (key !== null) headers["X-API-Key"] = key;
  const response = await fetch(server.url + path, {
    method: options.method ?? "POST",
    headers,
    body: options.method === "GET"
      ? undefined
      : options.rawBody ?? JSON.stringify(options.body ?? EVENT),
    client: options.client,
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {
    // HTML answers
  }
  return { status: response.status, headers: response.headers, text, json } satisfies Reply;
}

function logEvent(server: ReferenceServer, body: unknown = EVENT, options: PostOptions = {}) {
  return post(server, "/api/log_event", { ...options, body });
}

function plain(options: ReferenceServerOptions = {}): Promise<ReferenceServer> {
  return ReferenceServer.start({ tls: false, rateLimit: null, ...options });
}

// ---------------------------------------------------------------------------------------------
// Certificates and TLS

Deno.test("reference certificate is self-signed RSA, CN=localhost, CA:TRUE, no SAN, 10 years", async () => {
  const generated = await generateReferenceCertificate({ bits: 2048 });
  const cert = new X509Certificate(generated.certPem);
  assert.equal(cert.subject, "CN=localhost");
  assert.equal(cert.issuer, "CN=localhost");
  assert.equal(cert.ca, true);
  assert.equal(cert.subjectAltName, undefined);
  assert.equal(cert.publicKey.asymmetricKeyType, "rsa");
  assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.ok(cert.verify(cert.publicKey), "signed by its own key");
  const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365.25 * 86400_000);
  assert.ok(Math.abs(years - 10) < 0.01, `valid for ${years} years`);
  assert.equal(cert.fingerprint256.replaceAll(":", "").toLowerCase(), generated.sha256);
  assert.match(generated.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.equal(await generateReferenceCertificate({ bits: 2048 }), generated, "memoized");
});

Deno.test("reference certificate defaults to RSA 4096", async () => {
  const cert = new X509Certificate((await generateReferenceCertificate()).certPem);
  assert.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 4096);
});

Deno.test("ca-signed leaf is CA:FALSE with IP and DNS SAN, signed by a CA:TRUE certificate", async () => {
  const generated = await generateCaSignedCertificate();
  const ca = new X509Certificate(generated.caPem);
  const leaf = new X509Certificate(generated.certPem);
  assert.equal(ca.ca, true);
  assert.equal(leaf.ca, false);
  assert.equal(leaf.subjectAltName, "IP Address:127.0.0.1, DNS:localhost");
  assert.ok(leaf.checkIssued(ca));
  assert.ok(leaf.verify(ca.publicKey));
  assert.equal(leaf.fingerprint256.replaceAll(":", "").toLowerCase(), generated.sha256);
});

function peerCertificate(port: number): Promise<tls.DetailedPeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const peer = socket.getPeerCertificate(true);
      socket.on("close", () => resolve(peer));
      socket.end();
    });
    socket.on("error", reject);
  });
}

function httpsPost(
  port: number,
  path: string,
  key: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.request({
      host: "127.0.0.1",
      port,
      path,
      method: "POST",
      headers: { "X-API-Key": key, "Content-Length": "0" },
      rejectUnauthorized: false,
      agent: false,
    }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => body += chunk);
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end();
  });
}

Deno.test("TLS server presents the reference-kind certificate that Deno fetch rejects", async () => {
  await using server = await ReferenceServer.start({ certBits: 2048 });
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const certificate = server.certificate!;
  const peer = await peerCertificate(server.port);
  assert.equal(peer.fingerprint256.replaceAll(":", "").toLowerCase(), certificate.sha256);
  assert.equal(peer.subject.CN, "localhost");
  assert.equal(peer.subjectaltname ?? "", "", "Deno's node:tls gives an empty string when absent");
  const presented = new X509Certificate(peer.raw);
  assert.equal(presented.subjectAltName, undefined);
  assert.equal(presented.ca, true);

  const health = await httpsPost(server.port, "/api/health", DEFAULT_API_KEY);
  assert.equal(health.status, 200);
  assert.equal(JSON.parse(health.body).status, "ok");

  const client = Deno.createHttpClient({ caCerts: [certificate.certPem] });
  try {
    await assert.rejects(
      fetch(`${server.url}/api/health`, {
        method: "POST",
        headers: { "X-API-Key": DEFAULT_API_KEY },
        client,
      }),
      TypeError,
    );
  } finally {
    client.close();
  }
  assert.equal(server.count(200, "/api/health"), 1, "the rejected handshake made no request");
});

Deno.test("node:https keep-alive agent reuses one TLS connection to the reference-kind server", async () => {
  await using server = await ReferenceServer.start({ certBits: 2048, keepAlive: true });
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
  try {
    const send = () =>
      new Promise<{ status: number; body: string; fingerprint: string }>((resolve, reject) => {
        const request = https.request({
          host: "127.0.0.1",
          port: server.port,
          path: "/api/log_event",
          method: "POST",
          agent,
          headers: { "X-API-Key": DEFAULT_API_KEY, "Content-Type": "application/json" },
        }, (response) => {
          const socket = response.socket as tls.TLSSocket;
          const fingerprint = socket.getPeerCertificate().fingerprint256;
          let body = "";
          response.setEncoding("utf8");
          response.on("data", (chunk) => body += chunk);
          response.on(
            "end",
            () => resolve({ status: response.statusCode ?? 0, body, fingerprint }),
          );
        });
        request.on("error", reject);
        request.end(JSON.stringify(EVENT));
      });
    const first = await send();
    const second = await send();
    assert.deepEqual([first.status, second.status], [201, 200]);
    assert.equal(
      first.fingerprint.replaceAll(":", "").toLowerCase(),
      server.certificate!.sha256,
    );
    const [a, b] = server.requests();
    assert.equal(b.connectionId, a.connectionId);
    assert.equal(b.connectionRequest, 2);
  } finally {
    agent.destroy();
  }
});

Deno.test("ca-signed server is trusted by Deno fetch given the CA", async () => {
  await using server = await ReferenceServer.start({ tls: "ca-signed" });
  const certificate = server.certificate!;
  assert.ok(certificate.caPem);
  const client = Deno.createHttpClient({ caCerts: [certificate.caPem] });
  try {
    const reply = await post(server, "/api/health", { client });
    assert.equal(reply.status, 200);
  } finally {
    client.close();
  }
  const peer = await peerCertificate(server.port);
  assert.equal(peer.fingerprint256.replaceAll(":", "").toLowerCase(), certificate.sha256);
});

// ---------------------------------------------------------------------------------------------
// log_event

Deno.test("log_event stores an event and answers 201 with Flask's JSON", async () => {
  await using server = await plain();
  const reply = await logEvent(server);
  assert.equal(reply.status, 201);
  assert.equal(reply.text, '{"message":"Event logged successfully","status":"success"}\n');
  assert.equal(reply.headers.get("content-type"), "application/json");
  const [row] = server.stored();
  assert.deepEqual({ ...row, requestId: 0 }, {
    eventType: "Logon",
    userName: "josh",
    computerName: "DESKTOP-5D51HM9",
    localIp: "192.168.66.34",
    ipAddress: "192.168.66.34",
    publicIp: "203.0.113.7",
    timestamp: "2025-04-27T08:06:14+01:00",
    epochMs: Date.parse("2025-04-27T07:06:14Z"),
    storedTimestamp: "2025-04-27T08:06:14",
    retry: 0,
    clientIp: "127.0.0.1",
    requestId: 0,
  });
  const [record] = server.requests();
  assert.equal(row.requestId, record.id);
  assert.equal(record.method, "POST");
  assert.equal(record.path, "/api/log_event");
  assert.equal(record.status, 201);
  assert.equal(record.headers["x-api-key"], DEFAULT_API_KEY);
  assert.deepEqual(JSON.parse(record.body), EVENT);
  assert.equal(record.responseBody, reply.text);
  assert.equal(record.clientIp, "127.0.0.1");
  assert.ok(record.remotePort > 0);
  assert.equal(server.count(201), 1);
  assert.equal(server.count(201, "/api/health"), 0);
});

Deno.test("log_event answers 200 to a duplicate of the five key fields only", async (t) => {
  await using server = await plain();
  assert.equal((await logEvent(server)).status, 201);
  const cases: [string, Record<string, unknown>, number][] = [
    ["identical event", {}, 200],
    ["other PublicIP", { PublicIP: "198.51.100.1" }, 200],
    ["other IPAddress", { IPAddress: "10.9.9.9" }, 200],
    ["retry 1", { retry: 1 }, 200],
    ["same instant, other offset", { Timestamp: "2025-04-27T07:06:14Z" }, 200],
    ["other EventType", { EventType: "Logoff" }, 201],
    ["other UserName", { UserName: "anna" }, 201],
    ["other ComputerName", { ComputerName: "DESKTOP-OTHER" }, 201],
    ["other LocalIP", { LocalIP: "192.168.66.35" }, 201],
    ["other Timestamp second", { Timestamp: "2025-04-27T08:06:15+01:00" }, 201],
    ["UserName differs in case", { UserName: "Josh" }, 201],
  ];
  for (const [name, change, status] of cases) {
    await t.step(`${name} → ${status}`, async () => {
      const reply = await logEvent(server, { ...EVENT, ...change });
      assert.equal(reply.status, status);
      if (status === 200) {
        assert.equal(reply.text, '{"message":"Event already recorded","status":"success"}\n');
      }
    });
  }
  assert.equal(server.stored().length, 1 + cases.filter(([, , s]) => s === 201).length);
});

Deno.test("log_event without LocalIP stores NULL and never falls back to IPAddress", async () => {
  await using server = await plain();
  const { LocalIP: _, ...withoutLocal } = EVENT;
  assert.equal((await logEvent(server, withoutLocal)).status, 201);
  assert.equal(server.stored()[0].localIp, null);
  assert.equal((await logEvent(server, { ...withoutLocal, IPAddress: "10.0.0.9" })).status, 200);
  assert.equal((await logEvent(server, EVENT)).status, 201, "LocalIP set is another row");
});

Deno.test("legacy server requires IPAddress and deduplicates on it", async () => {
  await using server = await plain({ legacyIpAddress: true });
  const { IPAddress: _, ...withoutIp } = EVENT;
  const missing = await logEvent(server, withoutIp);
  assert.equal(missing.status, 500);
  assert.equal(missing.json.message, "Failed to log event: 'IPAddress'");
  assert.equal((await logEvent(server)).status, 201);
  assert.equal((await logEvent(server, { ...EVENT, LocalIP: "1.1.1.1" })).status, 200);
  assert.equal((await logEvent(server, { ...EVENT, IPAddress: "1.1.1.1" })).status, 201);
});

Deno.test("log_event accepts the server's five timestamp formats as the same instant", async (t) => {
  await using server = await plain();
  const cases: [string, string, number][] = [
    ["RFC 3339 with offset", "2025-04-27T08:06:14+01:00", 201],
    ["RFC 3339 with Z", "2025-04-27T07:06:14Z", 200],
    ["space, GMT", "2025-04-27 07:06:14 GMT", 200],
    ["space, BST", "2025-04-27 08:06:14 BST", 200],
    ["space, UTC", "2025-04-27 07:06:14 UTC", 200],
    ["space, no zone (UTC)", "2025-04-27 07:06:14", 200],
    ["space, numeric offset", "2025-04-27 09:06:14+0200", 200],
    ["RFC 3339 with ±HHMM", "2025-04-27T03:06:14-0400", 200],
  ];
  for (const [name, timestamp, status] of cases) {
    await t.step(`${name}: ${timestamp} → ${status}`, async () => {
      assert.equal((await logEvent(server, { ...EVENT, Timestamp: timestamp })).status, status);
    });
  }
  assert.equal(server.stored().length, 1);
});

Deno.test("log_event answers 400 to timestamps the server cannot parse", async (t) => {
  await using server = await plain();
  const cases = [
    "2025-04-27T08:06:14.123+01:00",
    "2025-04-27T08:06:14.123Z",
    "2025-04-27 08:06:14.5",
    "2025-04-27T08:06:14",
    "2025-04-27 08:06:14 CET",
    "2025-04-27 08:06:14 bst",
    "27/04/2025 08:06:14",
    "2025-02-30T08:06:14Z",
    "2025-04-27T08:06:60Z",
    "2025-04-27T24:00:00Z",
    "2025-04-27T08:06:14+24:00",
    "2025-04-27T08:06:14+01:0030",
    "",
  ];
  for (const timestamp of cases) {
    await t.step(JSON.stringify(timestamp), async () => {
      const reply = await logEvent(server, { ...EVENT, Timestamp: timestamp });
      assert.equal(reply.status, 400);
      assert.deepEqual(reply.json, {
        message: `Could not parse timestamp: ${timestamp}`,
        status: "error",
      });
    });
  }
  assert.equal(server.stored().length, 0);
});

Deno.test("parseReferenceTimestamp keeps Python strptime's leniencies", () => {
  const cases: [string, string | null][] = [
    ["2025-4-7T8:6:4+01:00", "2025-04-07T07:06:04Z"],
    ["2025-04-27t08:06:14z", "2025-04-27T08:06:14Z"],
    ["2025-04-27  08:06:14", "2025-04-27T08:06:14Z"],
    ["2025-04-27 08:06:14+01:00", "2025-04-27T07:06:14Z"],
    ["2025-04-27 08:06:14Z", "2025-04-27T08:06:14Z"],
    ["2025-04-27T08:06:14+01:00:30", "2025-04-27T07:05:44Z"],
    ["2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"],
    ["2025-04-27T08:06:14 +01:00", null],
    ["0000-01-01T00:00:00Z", null],
    ["2025-04-27T08:06:14+01", null],
  ];
  for (const [input, expected] of cases) {
    assert.equal(parseReferenceTimestamp(input)?.toString() ?? null, expected, input);
  }
});

Deno.test("duplicates compare wall-clock time in the server's zone, as the stored column does", async () => {
  await using server = await plain({ timeZone: "Europe/London" });
  // 2025-10-26 01:30 happens twice in London: 00:30Z (BST) and 01:30Z (GMT).
  assert.equal(
    (await logEvent(server, { ...EVENT, Timestamp: "2025-10-26T00:30:00Z" })).status,
    201,
  );
  assert.equal(
    (await logEvent(server, { ...EVENT, Timestamp: "2025-10-26T01:30:00Z" })).status,
    200,
  );
  await using utc = await plain({ timeZone: "UTC" });
  assert.equal((await logEvent(utc, { ...EVENT, Timestamp: "2025-10-26T00:30:00Z" })).status, 201);
  assert.equal((await logEvent(utc, { ...EVENT, Timestamp: "2025-10-26T01:30:00Z" })).status, 201);
});

Deno.test("log_event answers 500 where the server's code raises", async (t) => {
  await using server = await plain();
  const without = (name: string) => {
    const copy: Record<string, unknown> = { ...EVENT };
    delete copy[name];
    return copy;
  };
  const cases: [string, PostOptions, string][] = [
    ["missing Timestamp", { body: without("Timestamp") }, "'Timestamp'"],
    ["missing EventType", { body: without("EventType") }, "'EventType'"],
    ["missing UserName", { body: without("UserName") }, "'UserName'"],
    ["missing ComputerName", { body: without("ComputerName") }, "'ComputerName'"],
    [
      "Timestamp not a string",
      { body: { ...EVENT, Timestamp: 1745737574 } },
      "strptime() argument 1 must be str, not int",
    ],
    ["body is a list", { body: [EVENT] }, "list indices must be integers or slices, not str"],
    ["body is null", { body: null, rawBody: "null" }, "'NoneType' object is not subscriptable"],
    [
      "not JSON content type",
      { headers: { "Content-Type": "text/plain" } },
      "415 Unsupported Media Type: Did not attempt to load JSON data because the request Content-Type was not 'application/json'.",
    ],
    [
      "EventType over 20 characters",
      { body: { ...EVENT, EventType: "L".repeat(21) } },
      "(psycopg2.errors.StringDataRightTruncation) value too long for type character varying(20)",
    ],
    [
      "UserName over 50 characters",
      { body: { ...EVENT, UserName: "u".repeat(51) } },
      "(psycopg2.errors.StringDataRightTruncation) value too long for type character varying(50)",
    ],
    [
      "ComputerName over 50 characters",
      { body: { ...EVENT, ComputerName: "c".repeat(51) } },
      "(psycopg2.errors.StringDataRightTruncation) value too long for type character varying(50)",
    ],
    [
      "LocalIP over 45 characters",
      { body: { ...EVENT, LocalIP: "1".repeat(46) } },
      "(psycopg2.errors.StringDataRightTruncation) value too long for type character varying(45)",
    ],
    [
      "UserName null",
      { body: { ...EVENT, UserName: null } },
      '(psycopg2.errors.NotNullViolation) null value in column "user_name" of relation "api_logs" violates not-null constraint',
    ],
  ];
  for (const [name, options, detail] of cases) {
    await t.step(name, async () => {
      const reply = await post(server, "/api/log_event", options);
      assert.equal(reply.status, 500);
      assert.deepEqual(reply.json, { message: `Failed to log event: ${detail}`, status: "error" });
    });
  }
  await t.step("bad JSON", async () => {
    const reply = await post(server, "/api/log_event", { rawBody: "{not json" });
    assert.equal(reply.status, 500);
    assert.match(
      String(reply.json.message),
      /^Failed to log event: 400 Bad Request: Failed to decode JSON object: /,
    );
  });
  await t.step("exactly at the limits is stored", async () => {
    const reply = await logEvent(server, {
      ...EVENT,
      EventType: "E".repeat(20),
      UserName: "ü".repeat(50),
      ComputerName: "c".repeat(50),
      LocalIP: "1".repeat(45),
    });
    assert.equal(reply.status, 201);
  });
  assert.equal(server.stored().length, 1);
});

Deno.test("strictColumns false stores values over the limits, as SQLite would", async () => {
  await using server = await plain({ strictColumns: false });
  assert.equal((await logEvent(server, { ...EVENT, UserName: "u".repeat(80) })).status, 201);
});

Deno.test("API key checks answer 401 with the server's three messages", async (t) => {
  await using server = await plain({
    apiKeys: ["good-key-123456"],
    disabledKeys: ["old-key-123456"],
  });
  const cases: [string, string | null, string][] = [
    ["no header", null, "No API key provided"],
    ["empty header", "", "No API key provided"],
    ["unknown key", "wrong-key-123456", "Invalid API key"],
    ["disabled key", "old-key-123456", "API key has been disabled"],
  ];
  for (const path of ["/api/log_event", "/api/health"]) {
    for (const [name, key, message] of cases) {
      await t.step(`${path}: ${name}`, async () => {
        const reply = await post(server, path, { key });
        assert.equal(reply.status, 401);
        assert.equal(reply.text, flaskJson({ message }));
      });
    }
  }
  assert.equal((await logEvent(server, EVENT, { key: "good-key-123456" })).status, 201);
  assert.equal(server.stored().length, 1);
});

// ---------------------------------------------------------------------------------------------
// Rate limit

Deno.test("rate limit: fixed window per path and client, headers only on the 429, floor reset", async () => {
  let clock = 1_700_000_000_700;
  await using server = await plain({ rateLimit: { limit: 3, windowMs: 1000 }, now: () => clock });
  const start = clock;
  const reset = String(Math.floor((start + 1000) / 1000));
  for (const n of ["1", "2", "3"]) {
    const reply = await logEvent(server, { ...EVENT, UserName: `u${n}` });
    assert.equal(reply.status, 201);
    for (const name of ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"]) {
      assert.equal(reply.headers.get(name), null, `${name} on a 201 (the real server has none)`);
    }
    clock += 100;
  }
  const limited = await logEvent(server);
  assert.equal(limited.status, 429);
  assert.equal(
    limited.text,
    '{"error":"Too many requests","message":"Rate limit of 3 requests per 1 seconds exceeded"}\n',
  );
  assert.equal(limited.headers.get("x-ratelimit-limit"), "3");
  assert.equal(limited.headers.get("x-ratelimit-remaining"), "0");
  assert.equal(limited.headers.get("x-ratelimit-reset"), reset);
  assert.equal(limited.headers.get("retry-after"), null);

  const health = await post(server, "/api/health");
  assert.equal(health.status, 200, "health has its own budget");
  assert.equal(health.headers.get("x-ratelimit-remaining"), null);

  const other = await logEvent(server, EVENT, {
    headers: { "X-Forwarded-For": "10.1.1.1, 10.0.0.1" },
  });
  assert.equal(other.status, 201, "another client (X-Forwarded-For) has its own budget");
  assert.equal(server.requests().at(-1)!.clientIp, "10.1.1.1");

  clock = start + 1000;
  assert.equal((await logEvent(server)).status, 429, "the window ends strictly after its length");
  clock = start + 1001;
  const fresh = await logEvent(server, { ...EVENT, UserName: "after" });
  assert.equal(fresh.status, 201);
  assert.equal(fresh.headers.get("x-ratelimit-remaining"), null);
  assert.equal(server.count(429), 2);
});

Deno.test("rate limit is counted before the API key check", async () => {
  await using server = await plain({ rateLimit: { limit: 1, windowMs: 60_000 } });
  const unauthorized = await logEvent(server, EVENT, { key: null });
  assert.equal(unauthorized.status, 401);
  assert.equal(unauthorized.headers.get("x-ratelimit-remaining"), null);
  assert.equal((await logEvent(server)).status, 429, "the 401 used the budget");
  assert.equal((await logEvent(server, EVENT, { key: null })).status, 429);
});

Deno.test("rate limit window resets in real time", async () => {
  await using server = await plain({ rateLimit: { limit: 1, windowMs: 300 } });
  assert.equal((await logEvent(server)).status, 201);
  const limited = await logEvent(server);
  assert.equal(limited.status, 429);
  assert.equal(
    limited.json.message,
    "Rate limit of 1 requests per 0.3 seconds exceeded",
  );
  await new Promise((resolve) => setTimeout(resolve, 350));
  assert.equal((await logEvent(server)).status, 200);
});

Deno.test("default rate limit is 60 per 60 seconds", async () => {
  await using server = await ReferenceServer.start({ tls: false });
  for (let i = 0; i < 60; i++) {
    const reply = await post(server, "/api/health");
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get("x-ratelimit-limit"), null);
  }
  const reply = await post(server, "/api/health");
  assert.equal(reply.status, 429);
  assert.equal(reply.headers.get("x-ratelimit-limit"), "60");
  assert.equal(reply.headers.get("x-ratelimit-remaining"), "0");
  const reset = Number(reply.headers.get("x-ratelimit-reset"));
  assert.ok(Math.abs(reset - (Date.now() / 1000 + 60)) < 2, `reset ${reset}`);
  assert.equal((await logEvent(server)).status, 201, "log_event has its own budget");
});

Deno.test("no rate-limit headers without a limiter; routing errors are 200 HTML pages", async () => {
  await using server = await plain();
  assert.equal((await logEvent(server)).headers.get("x-ratelimit-limit"), null);
  await using limited = await plain({ rateLimit: { limit: 5, windowMs: 1000 } });
  const missing = await post(limited, "/api/nothing");
  assert.equal(missing.status, 200, "the real app renders error.html with status 200");
  assert.match(missing.text, /<title>Opsiee 404 Error<\/title>/);
  assert.equal(missing.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(missing.headers.get("x-ratelimit-limit"), null);
  const get = await post(limited, "/api/log_event", { method: "GET" });
  assert.equal(get.status, 200);
  assert.match(get.text, /405 Error/);
  await using flaskPages = await plain({ notFoundStatus: 404 });
  assert.equal((await post(flaskPages, "/api/nothing")).status, 404);
  const get405 = await post(flaskPages, "/api/log_event", { method: "GET" });
  assert.equal(get405.status, 405);
  assert.equal(get405.headers.get("allow"), "OPTIONS, POST");
});

// ---------------------------------------------------------------------------------------------
// Health

Deno.test("health answers ok, and 500 disconnected when the database is down", async () => {
  await using server = await plain();
  const ok = await post(server, "/api/health", { rawBody: "" });
  assert.equal(ok.status, 200);
  const { timestamp, ...rest } = ok.json;
  assert.deepEqual(rest, {
    status: "ok",
    message: "Health check passed",
    database: "connected",
    api_key_verified: true,
    company_id: 1,
  });
  assert.match(String(timestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?[+-]\d\d:\d\d$/);
  assert.ok(Math.abs(Date.parse(String(timestamp)) - Date.now()) < 5000);
  assert.ok(ok.text.startsWith('{"api_key_verified":true,"company_id":1,'), "sorted keys");

  server.setMode("db-down");
  const down = await post(server, "/api/health");
  assert.equal(down.status, 500);
  assert.equal(down.json.status, "error");
  assert.equal(down.json.database, "disconnected");
  assert.equal(down.json.message, "Health check failed");
  const event = await logEvent(server);
  assert.equal(event.status, 500);
  assert.match(String(event.json.message), /^Failed to log event: \(psycopg2\.OperationalError\)/);
  assert.equal((await post(server, "/api/health", { key: "bad-key-123456" })).status, 401);

  server.setMode("auth-error");
  const auth = await post(server, "/api/health");
  assert.equal(auth.status, 500);
  assert.equal(auth.text, '{"message":"Authentication error occurred"}\n');
  assert.equal((await post(server, "/api/health", { key: null })).status, 401);

  server.setMode("ok");
  assert.equal((await post(server, "/api/health")).status, 200);
  assert.equal(server.stored().length, 0);
});

Deno.test("health answers on a configured path only", async () => {
  await using server = await plain({ healthPath: "/status/check" });
  assert.equal((await post(server, "/status/check")).status, 200);
  const elsewhere = await post(server, "/api/health");
  assert.equal(elsewhere.status, 200);
  assert.match(elsewhere.text, /404 Error/);
});

// ---------------------------------------------------------------------------------------------
// Failure injection, connections, lifecycle

Deno.test("company_id may be null, as for the server's initial admin key", async () => {
  await using server = await plain({ companyId: null });
  const ok = await post(server, "/api/health", { rawBody: "" });
  assert.equal(ok.status, 200);
  assert.equal(ok.json.company_id, null);
  assert.ok(ok.text.startsWith('{"api_key_verified":true,"company_id":null,'));
});

Deno.test("failNext(n, 429) answers as the limiter does: its headers, no Retry-After", async () => {
  await using server = await plain({ rateLimit: { limit: 5, windowMs: 30_000 } });
  const before = Date.now();
  assert.equal((await logEvent(server)).status, 201);
  server.failNext(1, 429);
  const limited = await logEvent(server);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("x-ratelimit-limit"), "5");
  assert.equal(limited.headers.get("x-ratelimit-remaining"), "0");
  const reset = Number(limited.headers.get("x-ratelimit-reset"));
  assert.ok(reset * 1000 <= before + 30_000 + 1000 && reset * 1000 >= before + 29_000);
  assert.equal(limited.headers.get("retry-after"), null);
  assert.equal(limited.json.message, "Rate limit of 5 requests per 30 seconds exceeded");
  assert.equal((await logEvent(server)).headers.get("x-ratelimit-limit"), null, "only the 429");
});

Deno.test("error500 mode and failNext make requests fail, then recover", async () => {
  await using server = await plain();
  server.setMode("error500");
  const failed = await logEvent(server);
  assert.equal(failed.status, 500);
  assert.equal(failed.json.status, "error");
  assert.equal((await post(server, "/api/health")).status, 500);
  server.setMode("ok");

  server.failNext(2);
  assert.equal((await logEvent(server)).status, 500);
  assert.equal((await post(server, "/api/health")).json.database, "disconnected");
  assert.equal((await logEvent(server)).status, 201);
  server.failNext(1, 503);
  assert.equal((await logEvent(server)).status, 503);
  assert.equal((await logEvent(server)).status, 200);
  assert.equal(server.stored().length, 1);
  assert.equal(server.count(500), 4);
});

Deno.test("reset mode and failNext(n, 0) close the connection without an answer", async () => {
  await using server = await plain();
  server.setMode("reset");
  await assert.rejects(logEvent(server), TypeError);
  server.setMode("ok");
  server.failNext(1, 0);
  await assert.rejects(logEvent(server), TypeError);
  assert.equal((await logEvent(server)).status, 201);
  assert.equal(server.count(0), 2);
  assert.equal(server.stored().length, 1);
});

Deno.test("legacy server closes after each answer with a session cookie; keepAlive true reuses", async () => {
  const client = Deno.createHttpClient({});
  try {
    await using server = await plain();
    const reply = await logEvent(server, EVENT, { client });
    assert.equal(reply.headers.get("connection"), "close");
    assert.match(reply.headers.get("set-cookie") ?? "", /^session=/);
    assert.match(reply.headers.get("server") ?? "", /^Werkzeug\//);
    await logEvent(server, EVENT, { client });
    const [a, b] = server.requests();
    assert.notEqual(a.connectionId, b.connectionId);

    await using keeping = await plain({ keepAlive: true });
    await logEvent(keeping, EVENT, { client });
    await logEvent(keeping, EVENT, { client });
    const [first, second] = keeping.requests();
    assert.equal(second.connectionId, first.connectionId);
    assert.equal(second.remotePort, first.remotePort);
    assert.deepEqual([first.connectionRequest, second.connectionRequest], [1, 2]);
  } finally {
    client.close();
  }
});

Deno.test("chunked request bodies are read", async () => {
  await using server = await plain();
  const bytes = new TextEncoder().encode(JSON.stringify(EVENT));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes.subarray(0, 10));
      controller.enqueue(bytes.subarray(10));
      controller.close();
    },
  });
  const reply = await post(server, "/api/log_event", { rawBody: stream });
  assert.equal(reply.status, 201);
  assert.equal(server.requests()[0].headers["transfer-encoding"], "chunked");
});

Deno.test("pause refuses connections and resume listens again on the same port", async () => {
  await using server = await plain();
  const port = server.port;
  assert.equal((await logEvent(server)).status, 201);
  await server.pause();
  await assert.rejects(logEvent(server), TypeError);
  await server.resume();
  assert.equal(server.port, port);
  assert.equal((await logEvent(server, { ...EVENT, EventType: "Lock" })).status, 201);
  await server.pause();
  await server.pause();
  await server.resume();
  assert.equal((await logEvent(server)).status, 200, "state survives a pause");
});

Deno.test("waitFor, onRequest, setDelay and an idempotent stop", async () => {
  const seen: number[] = [];
  const server = await plain({ onRequest: (r) => seen.push(r.status) });
  const waiting = server.waitFor((rows) => rows.some((r) => r.eventType === "Unlock"));
  await logEvent(server);
  server.setDelay(50);
  const started = performance.now();
  await logEvent(server, { ...EVENT, EventType: "Unlock" });
  assert.ok(performance.now() - started >= 45, "answer delayed");
  assert.equal((await waiting).length, 2);
  assert.deepEqual(seen, [201, 201]);
  await assert.rejects(server.waitFor(() => false, 20), /Timed out waiting for stored events/);
  const never = server.waitFor(() => false);
  await server.stop();
  await server.stop();
  await assert.rejects(never, /stopped/);
  await assert.rejects(logEvent(server), TypeError);
});

Deno.test("program prints one JSON line and serves until SIGTERM", async () => {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./reference_server.ts", import.meta.url).pathname,
      "--no-tls",
      "--limit",
      "1",
      "--window-ms",
      "2000",
      "--api-key",
      "program-key-123456",
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  while (!output.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    output += value;
  }
  const info = JSON.parse(output.trim());
  assert.deepEqual(Object.keys(info), ["url", "port", "sha256", "apiKey"]);
  assert.equal(info.apiKey, "program-key-123456");
  const response = await fetch(`${info.url}/api/health`, {
    method: "POST",
    headers: { "X-API-Key": "program-key-123456" },
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-ratelimit-limit"), null);
  await response.body?.cancel();
  const limited = await fetch(`${info.url}/api/health`, {
    method: "POST",
    headers: { "X-API-Key": "program-key-123456" },
  });
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("x-ratelimit-limit"), "1");
  await limited.body?.cancel();
  child.kill("SIGTERM");
  const status = await child.status;
  while (!(await reader.read()).done) output += "";
  const stderr = await new Response(child.stderr).text();
  assert.equal(status.code, 0);
  assert.equal(output.trim().split("\n").length, 1, "nothing else on stdout");
  assert.equal(stderr, "", "quiet without --verbose");
});
