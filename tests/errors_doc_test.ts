/**
 * The table "Errors an administrator can meet" of docs/errors.md against the code, so that the two cannot
 * drift apart: every message of the table (each `code span` of its first column) must be made
 * by the agent's source. In those spans `<name>` stands for a part that varies and `…` for text
 * left out; what is between them is literal text, and each such piece (with at least one word
 * of three letters) must stand in one string literal or one literal part of a template literal
 * of a `.ts` file under src/ or ffi/ (tests excluded), or be the end of one such literal followed
 * by the start of another (a message composed of two strings, as `Warning: ${warning}` and the
 * warning). A row someone adds is checked the same way.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";

const ROOT = fromFileUrl(new URL("..", import.meta.url));

/**
 * The literal text of the string literals and template-literal parts of TypeScript `source`
 * (escapes decoded as far as messages use them; comments and regular expressions skipped).
 */
export function stringLiterals(source: string): string[] {
  const out: string[] = [];
  let i = 0;
  const unescape = (raw: string) =>
    raw.replace(/\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/gs, (_, e: string) => {
      if (e[0] === "u" && e.length > 1) {
        return String.fromCodePoint(parseInt(e.replace(/[u{}]/g, ""), 16));
      }
      if (e[0] === "x" && e.length === 3) return String.fromCharCode(parseInt(e.slice(1), 16));
      return ({ n: "\n", r: "\r", t: "\t" } as Record<string, string>)[e] ?? e;
    });
  // The last significant character before `i`: a "/" after one of these starts a regex.
  const regexAllowed = () => {
    let j = i - 1;
    while (j >= 0 && /\s/.test(source[j])) j--;
    return j < 0 || /[(,=:[!&|?{};+\-*%<>~^]/.test(source[j]) ||
      /\b(return|typeof|case|of|in)$/.test(source.slice(Math.max(0, j - 6), j + 1));
  };
  const skipTo = (mark: string, past: number) => {
    const at = source.indexOf(mark, i + 2);
    return at < 0 ? source.length : at + past;
  };
  const quoted = (quote: string) => {
    let text = "";
    i++;
    while (i < source.length && source[i] !== quote) {
      if (source[i] === "\\") text += source[i++];
      text += source[i++];
    }
    i++;
    out.push(unescape(text));
  };
  const template = () => {
    let text = "";
    i++;
    while (i < source.length && source[i] !== "`") {
      if (source[i] === "\\") {
        text += source[i] + source[i + 1];
        i += 2;
      } else if (source[i] === "$" && source[i + 1] === "{") {
        out.push(unescape(text));
        text = "";
        i += 2;
        code("}");
      } else {
        text += source[i++];
      }
    }
    i++;
    out.push(unescape(text));
  };
  const code = (until?: string) => {
    let depth = 0;
    while (i < source.length) {
      const c = source[i];
      if (until && c === until && depth === 0) {
        i++;
        return;
      }
      if (c === "{") depth++;
      else if (c === "}") depth--;
      if (c === '"' || c === "'") quoted(c);
      else if (c === "`") template();
      else if (c === "/" && source[i + 1] === "/") i = skipTo("\n", 0);
      else if (c === "/" && source[i + 1] === "*") i = skipTo("*/", 2);
      else if (c === "/" && regexAllowed()) {
        i++;
        let inClass = false;
        while (i < source.length && (source[i] !== "/" || inClass) && source[i] !== "\n") {
          if (source[i] === "\\") i++;
          else if (source[i] === "[") inClass = true;
          else if (source[i] === "]") inClass = false;
          i++;
        }
        i++;
      } else i++;
    }
  };
  code();
  return out;
}

async function sourceLiterals(): Promise<string[]> {
  const literals: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
        literals.push(...stringLiterals(await Deno.readTextFile(path)));
      }
    }
  };
  await walk(join(ROOT, "src"));
  await walk(join(ROOT, "ffi"));
  return literals;
}

/** The messages of docs/errors.md's error table: one list of code spans per row. */
function documentedMessages(doc: string): { row: string; messages: string[] }[] {
  const start = doc.indexOf("\n## Errors an administrator can meet");
  assert.ok(start >= 0, "docs/errors.md has the section Errors an administrator can meet");
  const end = doc.indexOf("\n## ", start + 1);
  const section = doc.slice(start, end < 0 ? undefined : end);
  return section.split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("| message"))
    .map((line) => {
      const first = line.slice(2).split(/(?<!\\) \| /)[0];
      const messages = [...first.matchAll(/`([^`]+)`/g)].map((m) => m[1].replaceAll("\\|", "|"));
      return { row: first, messages };
    });
}

/**
 * Whether `piece` stands in one literal, or is the end of one literal (3 characters or more)
 * followed by a piece that starts a literal (or is made the same way).
 */
function madeBy(piece: string, literals: string[], first = true): boolean {
  if (first ? literals.some((l) => l.includes(piece)) : literals.some((l) => l.startsWith(piece))) {
    return true;
  }
  for (let k = piece.length - 1; k >= 3; k--) {
    const head = piece.slice(0, k);
    const ends = first ? literals.some((l) => l.endsWith(head)) : literals.includes(head);
    if (ends && madeBy(piece.slice(k), literals, false)) return true;
  }
  return false;
}

/** The literal pieces of a documented message that the source must hold. */
function literalPieces(message: string): string[] {
  return message.split(/…|<[^<>]+>/).map((piece) => piece.trim()).filter((piece) =>
    /[A-Za-z]{3}/.test(piece)
  );
}

Deno.test("the string scanner finds literals, template parts, and skips comments and regexes", () => {
  const source = [
    'const a = "one \\"two\\""; // "not this"',
    "const b = `three ${x ? 'four' : `five ${y}`} six`;",
    '/* "nor this" */ const r = /["\']+/g; const c = x / 2 + "seven";',
  ].join("\n");
  assert.deepEqual(stringLiterals(source), [
    'one "two"',
    "three ",
    "four",
    "five ",
    "",
    " six",
    "seven",
  ]);
});

Deno.test("every message of the error table in docs/errors.md is made by the source", async (t) => {
  const doc = await Deno.readTextFile(join(ROOT, "docs", "errors.md"));
  const literals = await sourceLiterals();
  const rows = documentedMessages(doc);
  assert.ok(rows.length >= 20, `the error table has ${rows.length} rows`);
  for (const { row, messages } of rows) {
    await t.step(row.slice(0, 70), () => {
      assert.ok(messages.length > 0, `the row has no message in backticks: ${row}`);
      for (const message of messages) {
        const pieces = literalPieces(message);
        assert.ok(pieces.length > 0, `nothing to check in ${message}: write its literal words`);
        for (const piece of pieces) {
          assert.ok(
            madeBy(piece, literals),
            `"${piece}" (of the documented message ${message}) is in no string of src/: fix the row in docs/errors.md or the message`,
          );
        }
      }
    });
  }
});
