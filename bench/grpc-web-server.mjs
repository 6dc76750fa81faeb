// The server side of bench/grpc-web-call.mjs, in a process of its own (as a real deployment
// would be): startCommentServer() with 5 comments on resource 1. Prints its URL as one JSON line
// and runs until its stdin closes.
import { startCommentServer } from "../dist/testing.js";

const server = await startCommentServer({ placeholder: false });
for (let i = 0; i < 5; i++) {
  server.comments.insert({
    type: "resource",
    targetId: 1,
    userId: i + 1,
    parentId: 0,
    content: `comment number ${i} with a little text in it`,
    clientId: "",
    ip: "",
    createdAt: 1_700_000_000 + i,
  });
}
console.log(JSON.stringify({ url: server.url }));
process.stdin.resume();
process.stdin.on("end", () => server.close().then(() => process.exit(0)));
