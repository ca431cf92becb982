/**
 * What config.ini's unit tests share: an API key, the file the server generates, the defaults.
 *
 * @module
 */

export const KEY = "47959c6d5d8db64eb0ec3ad824ccbe82618632e2a58823d84aba92078da693fa";
/**
 * The config.ini the server's "Download Agent" page generates, byte for byte
 * (docs/server-contract.md, "The package the server hands out").
 */
export const SERVER_FILE = Deno.readTextFileSync(
  new URL("../../testdata/server_config.ini", import.meta.url),
);
export const DEFAULTS = { installDir: "/opt/usm", timeZone: "UTC" };
export const MIB = 1024 * 1024;
