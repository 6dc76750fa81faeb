/**
 * Everything `npm start` runs, as one function the browser tests reuse: the mqant gate
 * emulator with the demo Login/Chat modules, an embedded MQTT broker with the gmq chat service,
 * a gmq hub (in-memory engine) with the same chat service over `gmq/websocket`, the gw123
 * comment service over gRPC-web (for the comments page), and a static server for the pages on
 * localhost: the chat at `/`, the comments at `/comments.html`.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHub, type Hub } from "gmq/hub";
import { websocket } from "gmq/websocket";
import { type EmbeddedBroker, startBroker } from "../../adapters/testing/broker.js";
import { type CommentServer, startCommentServer } from "../../adapters/testing/gw123/index.js";
import { type MqantGate, startMqantGate } from "../../adapters/testing/mqant/index.js";
import { bundlePage } from "./bundle.js";
import { type ChatService, startChatService } from "./service.js";
import { serveStatic } from "./static-server.js";

export interface ChatDemo {
  readonly url: string;
  readonly gate: MqantGate;
  readonly broker: EmbeddedBroker;
  readonly service: ChatService;
  readonly hub: Hub;
  readonly hubService: ChatService;
  /** commentModule.CommentService over gRPC-web, for the comments page. */
  readonly comments: CommentServer;
  /** The comments page. */
  readonly commentsUrl: string;
  close(): Promise<void>;
}

export async function startChatDemo(options: { port?: number; host?: string } = {}): Promise<ChatDemo> {
  const gate = await startMqantGate({ demo: true });
  const broker = await startBroker();
  const service = await startChatService({ url: broker.tcpUrl });
  const hub = await createHub();
  const hubService = await startChatService({ transport: websocket({ url: hub.url }) });
  const comments = await startCommentServer();
  const buildDir = join(tmpdir(), `gmq-chat-${process.pid}`);
  await bundlePage(fileURLToPath(new URL("./app.ts", import.meta.url)), buildDir);
  await bundlePage(fileURLToPath(new URL("../comments/comments.ts", import.meta.url)), buildDir);
  const config = { mqant: gate.wsUrl, mqtt: broker.wsUrl, websocket: hub.url, grpcWeb: comments.url };
  const server = await serveStatic({
    dirs: [
      fileURLToPath(new URL("./public/", import.meta.url)),
      fileURLToPath(new URL("../comments/public/", import.meta.url)),
      buildDir,
    ],
    generated: { "/config.json": JSON.stringify(config) },
    ...options,
  });
  return {
    url: server.url,
    gate,
    broker,
    service,
    hub,
    hubService,
    comments,
    commentsUrl: `${server.url}comments.html`,
    async close() {
      await server.close();
      await comments.close();
      await hubService.close();
      await hub.close();
      await service.close();
      await broker.close();
      await gate.close();
    },
  };
}
