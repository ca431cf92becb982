import assert from "node:assert/strict";
import { errorText, readLines } from "./text.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((c) => encoder.encode(c)));
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readLines(stream)) lines.push(line);
  return lines;
}

Deno.test("readLines splits LF, CRLF and lone CR across chunk borders", async () => {
  assert.deepEqual(await collect(streamOf("a\nb\r", "\nc\rd", "\n", "e")), [
    "a",
    "b",
    "c",
    "d",
    "e",
  ]);
  assert.deepEqual(await collect(streamOf("x\r")), ["x"]);
  assert.deepEqual(await collect(streamOf("")), []);
  assert.deepEqual(await collect(streamOf("\n\n")), ["", ""]);
});

Deno.test("readLines stops when the consumer stops", async () => {
  const seen: string[] = [];
  for await (const line of readLines(streamOf("one\ntwo\nthree\n"))) {
    seen.push(line);
    break;
  }
  assert.deepEqual(seen, ["one"]);
});

Deno.test("errorText gives an Error's message and anything else as text", () => {
  assert.equal(errorText(new TypeError("bad")), "bad");
  assert.equal(errorText("plain"), "plain");
  assert.equal(errorText(42), "42");
});
