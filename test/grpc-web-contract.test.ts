/**
 * gmq/grpc-web through the shared contract suite, in both modes, against the gRPC-web test server
 * (connect-node behind the Envoy stand-in). The contract speaks JSON, so it runs on the test-only
 * gmqtest.Relay (google.protobuf.Value in and out); setOnline stops and restarts the server on
 * the same port, endStreams kills every open stream at the server.
 */
import { runTransportContract, waitFor } from "gmq/contract";
import { grpcWeb } from "gmq/grpc-web";
import { type CommentServer, RelayState, startCommentServer } from "gmq/testing";
import { RelayDefinition, TickerDefinition } from "../examples/comments/generated/gmqtest.js";
import { Empty } from "../examples/comments/generated/google/protobuf/empty.js";

/** A service the server does not have: calls to it are answered UNIMPLEMENTED. */
const NobodyDefinition = {
  fullName: "gmqtest.Nobody",
  methods: {
    nothing: {
      name: "nothing",
      requestType: Empty,
      responseType: Empty,
      requestStream: false,
      responseStream: false,
      options: {},
    },
  },
} as const;

const services = [RelayDefinition, TickerDefinition, NobodyDefinition];
const CHANNEL = "contract";

for (const mode of ["binary", "text"] as const) {
  let server: CommentServer | undefined;
  runTransportContract(`grpc-web (${mode})`, {
    capabilities: grpcWeb({ url: "http://127.0.0.1:1", services, mode }).capabilities,
    faults: { setOnline: true, endStreams: true },
    reportsNoResponder: true,
    names: { topic: "gmqtest.Relay/echo", service: "gmqtest.Relay", method: "echo" },
    echo: { service: "gmqtest.Relay", method: "echo" },
    slow: { service: "gmqtest.Relay", method: "hang" },
    nobody: { service: "gmqtest.Nobody", method: "nothing" },
    stream: {
      pattern: "gmqtest.Relay/watch",
      args: { channel: CHANNEL },
      async feed(values) {
        await waitFor(() => (server?.relay.watching(CHANNEL) ?? 0) > 0, 10_000, "a watch stream");
        server!.feed(CHANNEL, values as never[]);
      },
    },
    async setup() {
      const relay = new RelayState();
      server = await startCommentServer({ relay });
      const { port, url } = server;
      return {
        transport: () => grpcWeb({ url, services, mode }),
        async setOnline(online) {
          if (online && !server) server = await startCommentServer({ relay, port });
          if (!online && server) {
            const stopping = server;
            server = undefined;
            await stopping.close();
          }
        },
        endStreams: () => void server?.killStreams(),
        received: () => relay.echoed,
        teardown: () => server?.close(),
      };
    },
  });
}
