/**
 * gmq/websocket-gw123 — the legacy gw123/GMQ web module's `/message` socket (spec `gw123-gmq.md`
 * §4), publish only, over `isomorphic-ws`:
 *
 *   const client = createClient({
 *     transport: gw123Websocket({ url: "ws://gw123.example/message", moduleName: "viewModule" }),
 *   });
 *   await client.publish("sendMobileMessage", { phone: "123", text: "hi" });
 *
 * Its own entry rather than a dialect of `gmq/websocket`: it is another protocol (another
 * server, frame shape and lifecycle) that shares only the send queue, and an app of the gmq hub
 * should not carry it in its bundle.
 */
export type { Gw123WebsocketOptions } from "./options.js";
export { gw123Websocket } from "./transport.js";
