import assert from "node:assert/strict";
import { IniDocument } from "./ini.ts";

/**
 * The config.ini the server's "Download Agent" page generates, byte for byte
 * (docs/server-contract.md, "The package the server hands out").
 */
const SERVER_FILE = Deno.readTextFileSync(
  new URL("../../testdata/server_config.ini", import.meta.url),
);

const ORIGINAL_EXAMPLE = `[API]
api_key = 47959c6d5d8db64eb0ec3ad824ccbe82618632e2a58823d84aba92078da693fa
server_url = https://192.168.27.1:8000
debug_logs = false
timezone = Europe/London
health_check_interval = 30
health_check_path = /api/health
install_dir = C:\\ProgramData\\UserSessionMon`;

const CRLF_BOM = "\uFEFF[API]\r\napi_key=abc\r\n; note\r\nserver_url: https://h:8000\r\n\r\n" +
  "[Logging]\r\nsession_log_rotation_size_mb = 5\r\n";

const COMMENTED = `# written by hand
; second comment style
   [API]   ; trailing comment on a header
  Server_URL   =   "https://h:8000"   
custom_thing = keep me ; not a comment
empty =

[Extra Section]
whatever: 1
# end
`;

Deno.test("ini round-trips files byte for byte", async (t) => {
  const cases: [string, string][] = [
    ["the server-generated file", SERVER_FILE],
    ["the original agent's example (no final newline)", ORIGINAL_EXAMPLE],
    ["a CRLF file with a BOM", CRLF_BOM],
    ["a file with comments and unknown keys", COMMENTED],
    ["an empty file", ""],
  ];
  for (const [name, text] of cases) {
    await t.step(name, () => {
      assert.equal(IniDocument.parse(text, "/x/config.ini").toString(), text);
    });
  }
});

Deno.test("ini reads values, keys case-insensitively and sections case-sensitively", () => {
  const doc = IniDocument.parse(COMMENTED, "/x/config.ini");
  assert.deepEqual(doc.sections(), ["API", "Extra Section"]);
  assert.equal(doc.get("API", "server_url"), "https://h:8000");
  assert.equal(doc.get("API", "SERVER_URL"), "https://h:8000");
  assert.equal(doc.get("api", "server_url"), undefined);
  assert.equal(doc.get("API", "custom_thing"), "keep me ; not a comment");
  assert.equal(doc.get("API", "empty"), "");
  assert.equal(doc.get("Extra Section", "whatever"), "1");
  assert.equal(doc.lineOf("API", "server_url"), 4);
  assert.deepEqual(doc.entries("API").map((e) => e.key), ["Server_URL", "custom_thing", "empty"]);
  const crlf = IniDocument.parse(CRLF_BOM, "/x/config.ini");
  assert.equal(crlf.hasBom, true);
  assert.equal(crlf.eol, "\r\n");
  assert.equal(crlf.get("API", "api_key"), "abc");
  assert.equal(crlf.get("API", "server_url"), "https://h:8000");
});

Deno.test("ini only strips one pair of matching double quotes", () => {
  const doc = IniDocument.parse(`[A]\na = "x"\nb = 'y'\nc = "z\nd = ""q""\ne = "\n`, "/f");
  assert.equal(doc.get("A", "a"), "x");
  assert.equal(doc.get("A", "b"), "'y'");
  assert.equal(doc.get("A", "c"), '"z');
  assert.equal(doc.get("A", "d"), '"q"');
  assert.equal(doc.get("A", "e"), '"');
});

Deno.test("ini set changes only that line's value", async (t) => {
  await t.step("server file, one value", () => {
    const doc = IniDocument.parse(SERVER_FILE, "/x/config.ini");
    doc.set("API", "server_url", "https://10.0.0.1:8443");
    const expected = SERVER_FILE.replace(
      "server_url = https://192.168.27.1:8000",
      "server_url = https://10.0.0.1:8443",
    );
    assert.equal(doc.toString(), expected);
  });
  await t.step("keeps key spelling, spacing, quotes, comments, BOM and CRLF", () => {
    const doc = IniDocument.parse(COMMENTED, "/x/config.ini");
    doc.set("API", "server_url", "https://new:1");
    assert.equal(
      doc.toString(),
      COMMENTED.replace('"https://h:8000"', '"https://new:1"'),
    );
    const crlf = IniDocument.parse(CRLF_BOM, "/x/config.ini");
    crlf.set("API", "SERVER_URL", "https://z");
    crlf.set("API", "api_key", "def");
    assert.equal(
      crlf.toString(),
      CRLF_BOM.replace("server_url: https://h:8000", "server_url: https://z").replace(
        "api_key=abc",
        "api_key=def",
      ),
    );
  });
  await t.step("an empty value gets the usual space", () => {
    const doc = IniDocument.parse("[API]\napi_key =\nx:\ny=\n", "/f");
    doc.set("API", "api_key", "k");
    doc.set("API", "x", "1");
    doc.set("API", "y", "2");
    assert.equal(doc.toString(), "[API]\napi_key = k\nx: 1\ny=2\n");
  });
  await t.step("setting the same value keeps the text identical", () => {
    const doc = IniDocument.parse(SERVER_FILE, "/f");
    doc.set("Logging", "error_log_rotation_size_mb", "5");
    assert.equal(doc.toString(), SERVER_FILE);
  });
});

Deno.test("ini set appends a missing key at the end of its section", async (t) => {
  await t.step("before trailing blank lines", () => {
    const doc = IniDocument.parse(SERVER_FILE, "/f");
    doc.set("API", "tls_insecure", "false");
    assert.equal(
      doc.toString(),
      SERVER_FILE.replace(
        "ipv4.icanhazip.com\n\n[Logging]",
        "ipv4.icanhazip.com\ntls_insecure = false\n\n[Logging]",
      ),
    );
  });
  await t.step("before comments that lead into the next section", () => {
    const text = "[A]\na=1\n; about B\n[B]\nb=2\n";
    const doc = IniDocument.parse(text, "/f");
    doc.set("A", "c", "3");
    assert.equal(doc.toString(), "[A]\na=1\nc=3\n; about B\n[B]\nb=2\n");
  });
  await t.step("in the last section of a file without a final newline", () => {
    const doc = IniDocument.parse(ORIGINAL_EXAMPLE, "/f");
    doc.set("API", "obtain_public_ip", "true");
    assert.equal(doc.toString(), ORIGINAL_EXAMPLE + "\nobtain_public_ip = true");
  });
  await t.step("with CRLF in a CRLF file", () => {
    const doc = IniDocument.parse(CRLF_BOM, "/f");
    doc.set("Logging", "error_log_rotation_size_mb", "7");
    assert.equal(doc.toString(), CRLF_BOM + "error_log_rotation_size_mb = 7\r\n");
  });
  await t.step("right after the header of an empty section", () => {
    const doc = IniDocument.parse("[A]\n\n[B]\n", "/f");
    doc.set("A", "k", "v");
    assert.equal(doc.toString(), "[A]\nk = v\n\n[B]\n");
  });
});

Deno.test("ini set appends a missing section", async (t) => {
  await t.step("after a blank line", () => {
    const doc = IniDocument.parse(ORIGINAL_EXAMPLE, "/f");
    doc.set("Logging", "event_log_rotation_size_mb", "5");
    assert.equal(
      doc.toString(),
      ORIGINAL_EXAMPLE + "\n\n[Logging]\nevent_log_rotation_size_mb = 5",
    );
  });
  await t.step("to an empty file", () => {
    const doc = IniDocument.parse("", "/f");
    doc.set("API", "api_key", "k");
    assert.equal(doc.toString(), "[API]\napi_key = k\n");
  });
  await t.step("with the file's CRLF", () => {
    const doc = IniDocument.parse(CRLF_BOM, "/f");
    doc.set("New", "k", "v");
    assert.equal(doc.toString(), CRLF_BOM + "\r\n[New]\r\nk = v\r\n");
  });
});

Deno.test("ini set rejects values and keys it cannot write", () => {
  const doc = IniDocument.parse(SERVER_FILE, "/f");
  assert.throws(() => doc.set("API", "server_url", "a\nb"), TypeError);
  assert.throws(() => doc.set("API", "a=b", "1"), TypeError);
  assert.throws(() => doc.set("A]", "a", "1"), TypeError);
  assert.equal(doc.toString(), SERVER_FILE);
});

Deno.test("ini rejects malformed lines naming file, line and text", async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      "a line without = or :",
      "[API]\n\n\n\n\nx = 1\napi 123\n",
      /^Invalid line 7 in \/x\/config\.ini: "api 123" is not "key = value", a \[section\] or a ; comment$/,
    ],
    [
      "a key before any section",
      "; c\nserver_url = https://h\n[API]\n",
      /^Invalid line 2 in \/x\/config\.ini: "server_url = https:\/\/h" comes before any \[section\]: put it under \[API\]$/,
    ],
    [
      "a duplicate key, whatever its case",
      "[API]\ndebug_logs = 1\nDEBUG_LOGS = 0\n",
      /^Invalid line 3 in \/x\/config\.ini: "DEBUG_LOGS = 0" repeats key "DEBUG_LOGS" of line 2 in \[API\]: keep only one$/,
    ],
    [
      "an unterminated section",
      "[API]\nx=1\n[Logging\n",
      /^Invalid line 3 in \/x\/config\.ini: "\[Logging" is an unterminated \[section\]: add "\]"$/,
    ],
    [
      "a duplicate section",
      "[API]\n[Logging]\n[API]\n",
      /^Invalid line 3 in \/x\/config\.ini: "\[API\]" repeats section \[API\] of line 1: merge the two sections$/,
    ],
    [
      "an empty key",
      "[API]\r\n = 5\r\n",
      /^Invalid line 2 in \/x\/config\.ini: "= 5" has no key before "=": write "key = value"$/,
    ],
    [
      "text after a section header",
      "[API] x\n",
      /^Invalid line 1 in \/x\/config\.ini: "\[API\] x" is not "key = value"/,
    ],
    [
      "an empty section name",
      "[ ]\n",
      /^Invalid line 1 in \/x\/config\.ini: "\[ \]" is an empty section name/,
    ],
  ];
  for (const [name, text, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => IniDocument.parse(text, "/x/config.ini"), (e: unknown) => {
        assert.ok(e instanceof SyntaxError);
        assert.match(e.message, message);
        return true;
      });
    });
  }
});

Deno.test("ini shows ordinary malformed lines in full", () => {
  assert.throws(
    () => IniDocument.parse("[API]\nhealth check every 30 minutes\n", "/f"),
    {
      name: "SyntaxError",
      message:
        'Invalid line 2 in /f: "health check every 30 minutes" is not "key = value", a [section] or a ; comment',
    },
  );
});

Deno.test("ini hides secret values in error messages", async (t) => {
  const key = "SECRETkey0123456789abcdefXYZ";
  const cases = [
    `[API]\napi_key ${key}\n`,
    `api_key = ${key}\n[API]\n`,
    `[API]\napi_key = ${key}\nAPI_KEY = ${key}\n`,
    `[API]\n${key}\n`,
    `[API]\napikey ${key}\n`,
    `[API]\nkey is ${key} here\n`,
  ];
  for (const text of cases) {
    await t.step(JSON.stringify(text.replaceAll(key, "<key>")), () => {
      assert.throws(() => IniDocument.parse(text, "/f"), (e: unknown) => {
        assert.ok(e instanceof SyntaxError);
        assert.ok(!e.message.includes(key.slice(4, -4)), e.message);
        return true;
      });
    });
  }
});
