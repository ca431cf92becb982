import assert from "node:assert/strict";
import { formatCsvRow, parseCsv, scanCsv } from "./csv.ts";

Deno.test("formatCsvRow quotes only fields with a comma, quote, CR or LF", async (t) => {
  const cases: [string[], string][] = [
    [["Logon", "josh", "PC1"], "Logon,josh,PC1"],
    [["Zoë", "Ünïcödé 名前"], "Zoë,Ünïcödé 名前"],
    [["a,b"], '"a,b"'],
    [['say "hi"'], '"say ""hi"""'],
    [["two\nlines"], '"two\nlines"'],
    [["cr\rhere"], '"cr\rhere"'],
    [['Jürgen, O\'Neil "JJ"'], '"Jürgen, O\'Neil ""JJ"""'],
    [["=1+2", "@SUM(A1)", "-3"], "=1+2,@SUM(A1),-3"],
    [["", "", ""], ",,"],
  ];
  for (const [fields, text] of cases) {
    await t.step(JSON.stringify(fields), () => {
      assert.equal(formatCsvRow(fields), text);
      assert.deepEqual(parseCsv(text + "\n"), [fields]);
    });
  }
});

Deno.test("parseCsv reads back rows written by formatCsvRow, with LF or CRLF line ends", () => {
  const rows = [
    ["eventtype", "username", "hostname", "ipaddress", "timestamp", "send_status"],
    ["Logon", 'Jürgen, O\'Neil "JJ"', "PC,1", "10.0.0.1", "2025-04-27T08:06:14+01:00", "0"],
    ["Lock", "Zoë", "multi\r\nline", "::1", "2025-04-27T08:06:14Z", "1"],
    ["Unlock", "", '""', "x", "y", "2"],
  ];
  for (const lineEnd of ["\n", "\r\n"]) {
    const text = rows.map((row) => formatCsvRow(row) + lineEnd).join("");
    assert.deepEqual(parseCsv(text), rows);
    assert.deepEqual(parseCsv(text.slice(0, -lineEnd.length)), rows, "no final line end");
  }
});

Deno.test("parseCsv handles empty text, empty lines and a lone CR inside a field", () => {
  assert.deepEqual(parseCsv(""), []);
  assert.deepEqual(parseCsv("\n"), [[""]]);
  assert.deepEqual(parseCsv("a\n\nb\n"), [["a"], [""], ["b"]]);
  assert.deepEqual(parseCsv("a\rb,c\n"), [["a\rb", "c"]]);
});

Deno.test("parseCsv rejects an unclosed quote and text after a closing quote", () => {
  assert.throws(() => parseCsv('a,"bc\n'), SyntaxError);
  assert.throws(() => parseCsv('"ab"c,d\n'), SyntaxError);
});

Deno.test("scanCsv gives each record's span, line end and whether it is closed", () => {
  const text = 'a,b\r\n"x\ny",z\n"torn';
  const records = scanCsv(text);
  assert.equal(records.length, 3);
  assert.deepEqual(records[0], { fields: ["a", "b"], start: 0, end: 5, lineEnd: 2, closed: true });
  assert.deepEqual(records[1], {
    fields: ["x\ny", "z"],
    start: 5,
    end: 13,
    lineEnd: 1,
    closed: true,
  });
  assert.equal(records[2].closed, false);
  assert.equal(records[2].lineEnd, 0);
  assert.equal(records[2].end, text.length);
});
