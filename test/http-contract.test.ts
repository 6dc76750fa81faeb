/**
 * gmq/http through the shared contract suite, mqant dialect, against the mqant HTTP gateway
 * emulator with a module whose handlers echo (and keep) JSON bodies and never answer. setOnline
 * stops and restarts the gateway on the same port. (The gw123 dialect's routes are one app's and
 * take no arbitrary JSON; its envelope rules are tested in http-adapter.test.ts.)
 */
import { runTransportContract } from "gmq/contract";
import { http } from "gmq/http";
import { apiHandler, apiResponse, type MqantHttpGateway, startMqantHttpGateway } from "gmq/testing";

const received: unknown[] = [];
const modules = {
  app: {
    "/app/echo": apiHandler((request) => {
      received.push(JSON.parse(request.body || "null"));
      return apiResponse({ body: request.body });
    }),
    "/app/hang": apiHandler(() => new Promise(() => {})),
  },
};

runTransportContract("http (mqant HTTP gateway dialect)", {
  capabilities: http({ url: "http://127.0.0.1:1", dialect: "mqant" }).capabilities,
  faults: { setOnline: true },
  reportsNoResponder: true,
  names: { topic: "app/echo", service: "app", method: "echo" },
  echo: { service: "app", method: "/app/echo" },
  slow: { service: "app", method: "hang" },
  async setup() {
    let gateway: MqantHttpGateway | undefined = await startMqantHttpGateway({ modules });
    const { port, url } = gateway;
    return {
      transport: () => http({ url, dialect: "mqant" }),
      async setOnline(online) {
        if (online && !gateway) gateway = await startMqantHttpGateway({ modules, port });
        if (!online && gateway) {
          const stopping = gateway;
          gateway = undefined;
          await stopping.close();
        }
      },
      received: () => received,
      teardown: () => gateway?.close(),
    };
  },
});
