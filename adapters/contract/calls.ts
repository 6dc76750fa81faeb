/** Contract section: calls, served by gmq (over pub/sub) or native to the backend. */
import { GmqError } from "gmq";
import { expect, it } from "vitest";
import { type ContractContext, nextCounter, uniqueName, waitFor } from "./context.js";

export function callSection(ctx: ContractContext): void {
  const { caps, options, client } = ctx;
  const canCall = caps.requestReply || (caps.inbound === "routed" && caps.headers);
  const canServe = caps.serve === true || (caps.inbound === "routed" && caps.headers);

  if (canServe) {
    it("calls and gets the reply; a remote error is `remote`", async () => {
      const server = client();
      const caller = client();
      const service = uniqueName("Echo");
      const method = "echo";
      {
        server.handle(service, method, (args: { fail?: boolean; n: number }) => {
          if (args.fail)
            throw new GmqError("invalid_argument", "you asked for it", { details: { n: args.n } });
          return { twice: args.n * 2 };
        });
        await waitFor(() => server.state === "connected");
        await new Promise((r) => setTimeout(r, 100));
        expect(await caller.call(service, method, { n: 21 }, { timeoutMs: 5_000 })).toEqual({ twice: 42 });
        const failure = await caller.call(service, method, { n: 1, fail: true }).catch((e: GmqError) => e);
        expect(failure).toBeInstanceOf(GmqError);
        expect((failure as GmqError).code).toBe("remote");
        expect((failure as GmqError).message).toContain("you asked for it");
        expect((failure as GmqError).reason).toBe("invalid_argument");
        expect((failure as GmqError).details).toEqual({ n: 1 });
      }
    });
  }

  const echo = options.echo;
  if (caps.requestReply && echo) {
    it("calls the backend natively and decodes the reply", async () => {
      const caller = client();
      expect(await caller.call(echo.service, echo.method, { n: 42, s: "x" }, { timeoutMs: 5_000 })).toEqual({
        n: 42,
        s: "x",
      });
    });
  }

  if (canCall) {
    it("a call nobody answers fails with timeout (or no_responder) at the deadline", async () => {
      const caller = client();
      await caller.connect();
      const started = Date.now();
      const nobody = options.nobody ?? { service: "Nobody", method: `HD_nothing${nextCounter()}` };
      const failure = (await caller
        .call(nobody.service, nobody.method, {}, { timeoutMs: 300 })
        .catch((e) => e)) as GmqError;
      expect(failure).toBeInstanceOf(GmqError);
      expect(failure.code).toBe(options.reportsNoResponder ? "no_responder" : "timeout");
      expect(Date.now() - started).toBeLessThan(3_000);
    });
  }

  const slow = options.slow ?? (canServe ? { service: uniqueName("Slow"), method: "never" } : undefined);
  if (canCall && slow) {
    it("aborting a call rejects with aborted", async () => {
      if (canServe && !options.slow) {
        const server = client();
        server.handle(slow.service, slow.method, () => new Promise(() => {}));
        await server.connect();
        await new Promise((r) => setTimeout(r, 100));
      }
      const caller = client();
      await caller.connect();
      const controller = new AbortController();
      const pending = caller.call(
        slow.service,
        slow.method,
        {},
        { signal: controller.signal, timeoutMs: 10_000 },
      );
      setTimeout(() => controller.abort(), 50);
      const failure = (await pending.catch((e) => e)) as GmqError;
      expect(failure.code).toBe("aborted");
    });
  }
}
