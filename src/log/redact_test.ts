import assert from "node:assert/strict";
import { looksLikeKey, maskKeyLike, maskSecret, Redactor } from "./redact.ts";

const KEY = "47959c6d5d8db64eb0ec3ad824ccbe82618632e2a58823d84aba92078da693fa";

Deno.test("Redactor masks a learned key wherever it appears, and its long starts and ends", () => {
  const redactor = new Redactor();
  assert.equal(redactor.apply(`key ${KEY}`), `key ${KEY}`, "nothing learned yet");
  redactor.add(`  ${KEY}\n`);
  assert.equal(redactor.apply(`X-API-Key: ${KEY}.`), "X-API-Key: 4795…93fa.");
  assert.equal(
    redactor.apply(`pinned certificate ${KEY.slice(0, 16)}…`),
    "pinned certificate 4795……",
  );
  assert.equal(redactor.apply(`ends ${KEY.slice(-20)}`), "ends …93fa");
  assert.equal(redactor.apply(`short ${KEY.slice(0, 8)}`), `short ${KEY.slice(0, 8)}`);
  redactor.add("abc");
  assert.equal(redactor.apply("abc"), "abc", "too short to mask inside text");
});

Deno.test("maskKeyLike masks words shaped like a key in echoed input, not paths or hosts", () => {
  assert.equal(maskKeyLike(`--api_key=${KEY}`), `--api_key=${maskSecret(KEY)}`);
  assert.equal(
    maskKeyLike("C:\\ProgramData\\UserSessionMon\\config.ini"),
    "C:\\ProgramData\\UserSessionMon\\config.ini",
  );
  assert.equal(
    maskKeyLike("https://server01.example.com:8000"),
    "https://server01.example.com:8000",
  );
  assert.equal(maskKeyLike("Europe/London"), "Europe/London");
  assert.ok(looksLikeKey("0123456789abcdef-test-key"));
  assert.ok(!looksLikeKey("health_check_interval"));
});
