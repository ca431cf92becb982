import assert from "node:assert/strict";
import { fallbackConfig } from "../config/source.ts";
import { ServerConnection } from "./connection.ts";

const PIN = "ab".repeat(32);

Deno.test("the connection keeps its transport until server_url or the TLS settings change", () => {
  const lines: string[] = [];
  const connection = new ServerConnection((level, message) => lines.push(`${level}: ${message}`));
  const config = { ...fallbackConfig("/agent"), serverUrl: "https://127.0.0.1:8000" };
  try {
    connection.configure(config);
    const first = connection.transport();
    connection.configure({ ...config, apiKey: "another key", debugLogs: true });
    assert.equal(connection.transport(), first);
    connection.configure({ ...config, tlsServerSha256: PIN });
    assert.notEqual(connection.transport(), first);
    assert.deepEqual(lines, []);
  } finally {
    connection.close();
  }
});

Deno.test("an unreadable tls_ca_file is logged and the default roots are used", () => {
  const lines: string[] = [];
  const connection = new ServerConnection((level, message) => lines.push(`${level}: ${message}`));
  const config = {
    ...fallbackConfig("/agent"),
    serverUrl: "https://127.0.0.1:8000",
    tlsCaFile: "/nonexistent/ca.pem",
  };
  try {
    connection.configure(config);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /^error: Cannot read tls_ca_file \/nonexistent\/ca\.pem: .*; using Deno's built-in Mozilla roots until config.ini is saved again with a readable file$/,
    );
    connection.transport(); // made with the default roots
    connection.configure({ ...config, tlsInsecure: true });
    assert.match(
      lines.at(-1)!,
      /^warn: tls_insecure = true: the server's certificate is NOT checked/,
    );
  } finally {
    connection.close();
  }
});
