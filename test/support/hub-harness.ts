/**
 * A hub for `gmq/websocket` tests that can go away and come back on the same port with the same
 * engine (history, marks and all), as a restarted or redeployed hub behind one address would.
 */
import { createHub, type Hub, type HubOptions, type MemoryEngine, memoryEngine } from "gmq/hub";

export interface RestartableHub {
  readonly url: string;
  readonly engine: MemoryEngine;
  readonly hub: Hub | undefined;
  /** Close (clients get 4100) and stay down. */
  stop(): Promise<void>;
  /** Up again on the same port. */
  start(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startRestartableHub(
  options: Omit<HubOptions, "port" | "engine"> = {},
): Promise<RestartableHub> {
  const engine = memoryEngine();
  let hub: Hub | undefined = await createHub({ ...options, engine: engine });
  const { port } = hub;
  const url = hub.url;
  const self: RestartableHub = {
    url,
    engine,
    get hub() {
      return hub;
    },
    async stop() {
      const current = hub;
      hub = undefined;
      await current?.close({ timeoutMs: 500 });
    },
    async start() {
      if (hub) return;
      for (let attempt = 0; ; attempt++) {
        try {
          hub = await createHub({ ...options, port, engine: engine });
          return;
        } catch (error) {
          // The old listener may take a moment to let go of the port.
          if (attempt > 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    },
    async restart() {
      await self.stop();
      await self.start();
    },
    async close() {
      await self.stop();
    },
  };
  return self;
}
