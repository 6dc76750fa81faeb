/**
 * The wire protocol lives with the client (`adapters/websocket/protocol.ts`, no imports, no Node
 * code), so `gmq/websocket` can use it in a browser; the hub shares the same file.
 */
export * from "../websocket/protocol.js";
