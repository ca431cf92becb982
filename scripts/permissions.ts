/**
 * The agent's permission list lives in src/permissions.ts (the service's development-mode
 * command line needs it, and src/ does not import scripts/); re-exported here for the scripts
 * and tests that still import it from this path.
 *
 * @module
 */
export { AGENT_PERMISSIONS } from "../src/permissions.ts";
