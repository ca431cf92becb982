import assert from "node:assert/strict";
import {
  answerKind,
  answerText,
  confirmsStored,
  describeForeign,
  MAX_QUOTE,
  readAnswer,
} from "./server_answer.ts";

Deno.test("answerKind says what each HTTP status means", () => {
  const table: [number, ReturnType<typeof answerKind>][] = [
    [200, "success"],
    [201, "success"],
    [204, "success"],
    [401, "unauthorized"],
    [403, "unauthorized"],
    [429, "rate-limited"],
    [404, "wrong-url"],
    [405, "wrong-url"],
    [400, "refused"],
    [413, "refused"],
    [422, "refused"],
    [408, "retryable"],
    [500, "retryable"],
    [503, "retryable"],
    [302, "redirect"],
    [301, "redirect"],
  ];
  for (const [status, kind] of table) assert.equal(answerKind(status), kind, `HTTP ${status}`);
});

Deno.test("readAnswer reads the string fields of a JSON body once", async (t) => {
  await t.step("a health answer", () => {
    const body = JSON.stringify({
      status: "error",
      message: "Health check failed",
      database: "disconnected",
      api_key_verified: true,
    });
    assert.deepEqual(readAnswer({ status: 500, headers: {}, body }), {
      httpStatus: 500,
      kind: "retryable",
      message: "Health check failed",
      error: undefined,
      status: "error",
      database: "disconnected",
      body,
      location: undefined,
      json: true,
    });
  });
  await t.step("fields that are not strings are absent", () => {
    const answer = readAnswer({ status: 200, headers: {}, body: '{"message":42,"status":null}' });
    assert.equal(answer.message, undefined);
    assert.equal(answer.status, undefined);
  });
  for (const body of ["<h1>Bad Gateway</h1>", "null", "[1]", '"text"', ""]) {
    await t.step(`a body that is not a JSON object: ${JSON.stringify(body)}`, () => {
      const answer = readAnswer({ status: 502, headers: {}, body });
      assert.equal(answer.message, undefined);
      assert.equal(answer.body, body);
    });
  }
});

Deno.test("answerText is the text shown to an admin", async (t) => {
  const text = (status: number, body: string) =>
    answerText(readAnswer({ status, headers: {}, body }));
  await t.step("the message first, then the error", () => {
    assert.equal(text(429, '{"error":"Too many requests","message":"Rate limit"}'), "Rate limit");
    assert.equal(text(429, '{"error":"Too many requests"}'), "Too many requests");
  });
  await t.step("else the body on one line, else the status", () => {
    assert.equal(text(503, "  Service\n  Unavailable \n"), "Service Unavailable");
    assert.equal(text(404, ""), "HTTP 404");
    assert.equal(text(422, "{}"), "{}");
  });
  await t.step("cut to MAX_QUOTE characters", () => {
    const said = text(400, JSON.stringify({ message: "x".repeat(500) }));
    assert.equal(said, "x".repeat(MAX_QUOTE) + "…");
  });
});

Deno.test("confirmsStored accepts only the server's two answers to a stored event", async (t) => {
  const table: [string, number, string, { stored: boolean; duplicate: boolean }][] = [
    ["201 success", 201, '{"message":"Event logged successfully","status":"success"}', {
      stored: true,
      duplicate: false,
    }],
    ["200 already recorded", 200, '{"message":"Event already recorded","status":"success"}', {
      stored: true,
      duplicate: true,
    }],
    ["200 success, another message", 200, '{"message":"ok","status":"success"}', {
      stored: false,
      duplicate: false,
    }],
    ["200 status error", 200, '{"message":"Event already recorded","status":"error"}', {
      stored: false,
      duplicate: false,
    }],
    ["200 HTML", 200, "<html><title>Opsiee 404 Error</title></html>", {
      stored: false,
      duplicate: false,
    }],
    ["202 success", 202, '{"status":"success"}', { stored: false, duplicate: false }],
  ];
  for (const [name, status, body, expected] of table) {
    await t.step(name, () => {
      assert.deepEqual(confirmsStored(readAnswer({ status, headers: {}, body })), expected);
    });
  }
  await t.step("describeForeign names what came instead", () => {
    const html = readAnswer({
      status: 200,
      headers: {},
      body: "<!doctype html><title>Hotel WiFi login</title>",
    });
    assert.equal(describeForeign(html), 'an HTML page ("Hotel WiFi login")');
    assert.equal(
      describeForeign(readAnswer({ status: 200, headers: {}, body: '{"status":"error"}' })),
      '"status":"error" ({"status":"error"})',
    );
  });
});
