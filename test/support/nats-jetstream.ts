/**
 * A nats-server with JetStream from the system, on a free loopback port with its own store
 * directory, for the hub's NATS engine tests.
 */
import { freePort, type RunningProcess, requireBinary, startProcess, tempDir } from "./system.js";

export const natsServerBinary = requireBinary("nats-server", "/usr/sbin/nats-server");

export interface NatsJetStream {
  readonly url: string;
  close(): Promise<void>;
}

export async function startNatsJetStream(): Promise<NatsJetStream> {
  const dir = tempDir("nats-js");
  const port = await freePort();
  let running: RunningProcess;
  try {
    running = await startProcess(
      natsServerBinary.path,
      ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir.path, "-n", `gmq_hub_test_${port}`],
      { ports: [port], timeoutMs: 20_000 },
    );
  } catch (error) {
    dir.remove();
    throw error;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    close: async () => {
      await running.stop();
      dir.remove();
    },
  };
}
