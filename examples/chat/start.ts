/** `npm start`: the chat page on embedded backends, on http://127.0.0.1:8080 (or a free port). */
import { startChatDemo } from "./demo.js";

const demo = await startChatDemo({ port: Number(process.env.PORT ?? 8080) });
console.log(`gmq chat is running at ${demo.url}
  backends: mqant gate ${demo.gate.wsUrl} (demo Login/Chat modules)
            MQTT broker ${demo.broker.wsUrl} (+ gmq chat service)
            gmq hub ${demo.hub.url} (+ gmq chat service; ?backend=websocket)
            gRPC-web comment service ${demo.comments.url}
  open it in two windows, pick a name in each, and chat.
  comments (gRPC-web, posts wait in the outbox while offline): ${demo.commentsUrl}
  Ctrl+C stops.`);

const stop = async () => {
  await demo.close();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
