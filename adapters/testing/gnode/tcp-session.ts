/**
 * One TCP connection (spec §3, §7.1 #12–14): reads a line, splits it on every single space, runs
 * that one command to completion (a blocked `pop` holds back every later line), then reads the
 * next. Empty lines and lines of fewer than two tokens close the socket silently; fatal errors
 * send their 102 frame and close it.
 */

import type { Buffer } from "node:buffer";
import type { Socket } from "node:net";
import type { GnodeBroker } from "./broker.js";
import { ByteReader } from "./byte-reader.js";
import type { ChannelHub, ChannelSubscriber } from "./channels.js";
import { goUtf8 } from "./go-values.js";
import type { Consumer, ConsumerKind, GnodeQueue, QueuedMsg } from "./queue.js";
import { runCommand } from "./tcp-commands.js";
import { CommandError, encodeFrame, FRAME_CHANNEL, FRAME_ERROR, FRAME_PING } from "./tcp-frames.js";

export interface SessionHost {
  readonly broker: GnodeBroker;
  readonly channels: ChannelHub;
  readonly heartbeatMs: number;
  readonly pingDeadlineMs: number;
}

export type WaitOutcome = "delivered" | "exit" | "closed";

export class TcpSession implements ChannelSubscriber {
  readonly reader: ByteReader;
  #closed = false;
  readonly #closeHooks = new Set<() => void>();
  #pingDeadline: NodeJS.Timeout | undefined;
  #waiting = 0;

  constructor(
    readonly socket: Socket,
    readonly host: SessionHost,
  ) {
    this.reader = new ByteReader(socket);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.reader.push(chunk));
    socket.on("end", () => {
      this.reader.end();
      // A client that hangs up while we block cannot be told from a half-close here; treat it as
      // gone so the blocked pop or dead is withdrawn instead of consuming a message (§7.1 #9).
      if (this.#waiting > 0) socket.destroy();
    });
    socket.on("error", () => {});
    socket.on("close", () => this.closed());
    void this.loop();
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Go's `conn.LocalAddr().String()`, used by the duplicate-subscribe error. */
  get localAddress(): string {
    const host = this.socket.localAddress ?? "";
    return `${host.includes(":") ? `[${host}]` : host}:${this.socket.localPort ?? 0}`;
  }

  /** One frame in one write. False if the socket is gone or backed up. */
  writeFrame(type: number, payload: Uint8Array | string): boolean {
    if (this.#closed || this.socket.destroyed || !this.socket.writable) return false;
    return this.socket.write(encodeFrame(type, payload));
  }

  sendChannelFrame(data: Uint8Array): boolean {
    return this.writeFrame(FRAME_CHANNEL, data);
  }

  drained(): Promise<void> {
    if (this.#closed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off("drain", done);
        this.#closeHooks.delete(done);
        resolve();
      };
      this.socket.on("drain", done);
      this.#closeHooks.add(done);
    });
  }

  /**
   * Block on a queue until a message is read for this consumer, the topic exits or the socket
   * closes (then the consumer is withdrawn unserved). TCP `pop` sends 105 heartbeats meanwhile.
   */
  waitOn(
    queue: GnodeQueue,
    kind: ConsumerKind,
    onMessage: (msg: QueuedMsg) => void,
    heartbeat: boolean,
  ): Promise<WaitOutcome> {
    if (this.#closed || this.reader.ended) {
      this.socket.destroy();
      return Promise.resolve("closed");
    }
    this.#waiting++;
    return new Promise((resolve) => {
      let ticker: NodeJS.Timeout | undefined;
      const finish = (outcome: WaitOutcome) => {
        clearInterval(ticker);
        this.#waiting--;
        this.#closeHooks.delete(onClose);
        resolve(outcome);
      };
      const consumer: Consumer = {
        kind,
        deliver: (msg) => {
          onMessage(msg);
          finish("delivered");
        },
        topicExited: () => finish("exit"),
      };
      const onClose = () => {
        queue.cancel(consumer);
        finish("closed");
      };
      this.#closeHooks.add(onClose);
      if (heartbeat) ticker = setInterval(() => this.writeFrame(FRAME_PING, "ping"), this.host.heartbeatMs);
      queue.consume(consumer);
    });
  }

  /** `ping <x>`: the socket dies this long after the last processed ping, whatever happens meanwhile. */
  armPingDeadline(): void {
    clearTimeout(this.#pingDeadline);
    this.#pingDeadline = setTimeout(() => this.socket.destroy(), this.host.pingDeadlineMs);
  }

  /** Like Go's conn.Close(): what was written still goes out, then the socket closes. */
  close(): void {
    this.socket.destroySoon();
  }

  private async loop(): Promise<void> {
    try {
      while (!this.#closed) {
        const line = await this.reader.readLine();
        if (line === null || this.#closed) break;
        const tokens = splitSpaces(line);
        if (line.length === 0 || tokens.length < 2) break;
        const error = await runCommand(this, tokens[0]!, tokens.slice(1));
        if (this.#closed) break;
        if (error instanceof CommandError) {
          this.writeFrame(FRAME_ERROR, error.payload);
          if (error.fatal) break;
        }
      }
    } finally {
      this.close();
    }
  }

  private closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#pingDeadline);
    this.reader.end();
    this.host.channels.leave(this);
    for (const hook of [...this.#closeHooks]) hook();
    this.#closeHooks.clear();
  }
}

/** bytes.Split(line, " "): every single space separates, so two spaces make an empty token. */
function splitSpaces(line: Buffer): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= line.length; i++) {
    if (i === line.length || line[i] === 0x20) {
      out.push(goUtf8(line.subarray(start, i)));
      start = i + 1;
    }
  }
  return out;
}
