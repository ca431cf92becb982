import assert from "node:assert/strict";
import { classify, eventBody } from "./event_answer.ts";
import type { HttpResponse } from "../net/transport.ts";
import { created, event, response } from "../../tests/support/delivery_double.ts";

Deno.test("eventBody sends the captured values in the server's field order", async (t) => {
  await t.step("without a public IP", () => {
    assert.equal(
      eventBody(event(14), { retry: false }),
      '{"EventType":"Logon","UserName":"josh","ComputerName":"DESKTOP-5D51HM9",' +
        '"LocalIP":"192.168.66.34","IPAddress":"192.168.66.34",' +
        '"Timestamp":"2025-04-27T08:00:14+01:00","retry":0}',
    );
  });
  await t.step("with a public IP, on a retry", () => {
    assert.equal(
      eventBody(event(14), { retry: true, publicIp: "203.0.113.7" }),
      '{"EventType":"Logon","UserName":"josh","ComputerName":"DESKTOP-5D51HM9",' +
        '"LocalIP":"192.168.66.34","IPAddress":"192.168.66.34","PublicIP":"203.0.113.7",' +
        '"Timestamp":"2025-04-27T08:00:14+01:00","retry":1}',
    );
  });
  await t.step("quotes awkward names as JSON", () => {
    const body = JSON.parse(eventBody(event(1, { userName: 'o"brien\\x' }), { retry: false }));
    assert.equal(body.UserName, 'o"brien\\x');
  });
});

Deno.test("classify maps every answer of the server to an outcome", async (t) => {
  const foreign = (what: string) =>
    `answered 200 with ${what}, not the server's "status":"success": the answer does not come from the expected server (a captive portal, a proxy or another web server at server_url?)`;
  const table: [string, HttpResponse, unknown][] = [
    ["201 created", created(), { kind: "sent", duplicate: false }],
    [
      "200 duplicate",
      response(200, { message: "Event already recorded", status: "success" }),
      { kind: "sent", duplicate: true },
    ],
    [
      "204 is not the server's answer",
      { status: 204, headers: {}, body: "" },
      {
        kind: "misconfigured",
        status: 204,
        reason: foreign("an empty body").replace("answered 200", "answered 204"),
      },
    ],
    [
      "200 HTML page (captive portal, the real app's error page)",
      {
        status: 200,
        headers: {},
        body: "<!DOCTYPE html><html><title>Opsiee 404 Error</title></html>",
      },
      { kind: "misconfigured", status: 200, reason: foreign('an HTML page ("Opsiee 404 Error")') },
    ],
    [
      '200 {"status":"error"}',
      response(200, { message: "Failed", status: "error" }),
      { kind: "misconfigured", status: 200, reason: foreign('"status":"error" (Failed)') },
    ],
    [
      '201 without "status":"success"',
      response(201, { message: "ok" }),
      {
        kind: "misconfigured",
        status: 201,
        reason: foreign('JSON without "status":"success" (ok)').replace(
          "answered 200",
          "answered 201",
        ),
      },
    ],
    [
      "301 with Location",
      {
        status: 301,
        headers: { location: "https://monitor.example.com:8443/api/log_event" },
        body: "",
      },
      {
        kind: "misconfigured",
        status: 301,
        reason:
          "answered 301, a redirect to https://monitor.example.com:8443/api/log_event: the agent does not follow redirects (the API key would go along); set server_url to the server's own address (winagentUSM.exe --url https://monitor.example.com:8443)",
      },
    ],
    [
      "401",
      response(401, { message: "Invalid API key" }),
      { kind: "unauthorized", message: "Invalid API key" },
    ],
    [
      "403",
      response(403, { message: "API key has been disabled" }),
      { kind: "unauthorized", message: "API key has been disabled" },
    ],
    [
      "400 bad timestamp",
      response(400, { message: "Could not parse timestamp: x", status: "error" }),
      { kind: "rejected", status: 400, reason: "Could not parse timestamp: x" },
    ],
    [
      "413 not JSON",
      { status: 413, headers: {}, body: "<h1>Request Entity Too Large</h1>" },
      { kind: "rejected", status: 413, reason: "<h1>Request Entity Too Large</h1>" },
    ],
    ["422", response(422, {}), { kind: "rejected", status: 422, reason: "{}" }],
    [
      "404",
      { status: 404, headers: {}, body: "" },
      {
        kind: "misconfigured",
        status: 404,
        reason: "answered 404 (HTTP 404): this is not the event endpoint; check server_url",
      },
    ],
    [
      "405",
      response(405, { message: "Method Not Allowed" }),
      {
        kind: "misconfigured",
        status: 405,
        reason:
          "answered 405 (Method Not Allowed): this is not the event endpoint; check server_url",
      },
    ],
    [
      "500",
      response(500, { message: "Failed to log event: db", status: "error" }),
      { kind: "retryable", reason: "the server answered 500: Failed to log event: db" },
    ],
    [
      "503",
      { status: 503, headers: {}, body: "Service Unavailable" },
      { kind: "retryable", reason: "the server answered 503: Service Unavailable" },
    ],
    [
      "408",
      { status: 408, headers: {}, body: "" },
      { kind: "retryable", reason: "the server answered 408: HTTP 408" },
    ],
    ["429", response(429, { error: "Too many requests" }), { kind: "rate-limited" }],
  ];
  for (const [name, answer, expected] of table) {
    await t.step(name, () => assert.deepEqual(classify(answer), expected));
  }
});
