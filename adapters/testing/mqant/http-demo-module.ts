/**
 * A small module for the HTTP gateway emulator, in the style of mqant's httpgateway example:
 * API handlers named by their full URL path under the module type `user`.
 */

import { apiError, apiResponse } from "./http-api.js";
import { apiHandler, type MqantModule } from "./module.js";

function field(request: Parameters<Parameters<typeof apiHandler>[0]>[0], name: string): string | undefined {
  const fromQuery = request.get[name]?.values[0] ?? request.post[name]?.values[0];
  if (fromQuery !== undefined) return fromQuery;
  try {
    const parsed = JSON.parse(request.body) as Record<string, unknown>;
    return typeof parsed?.[name] === "string" ? parsed[name] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * - `/user/login`: `userName` from the query, a form or a JSON body → 200 `{"token","userName"}`;
 *   missing → HTTP 400 `{"id":"user","code":400,"detail":"userName required","status":"Bad Request"}`.
 * - `/user/echo`: 200 with the go.api.Request it received as JSON (method, path, url, get, post,
 *   body, header), so a client can check how its request was mapped.
 */
export function httpDemoModule(): MqantModule {
  return {
    type: "user",
    handlers: {
      "/user/login": apiHandler((request) => {
        const userName = field(request, "userName");
        if (!userName) throw apiError(400, "userName required", "user");
        return apiResponse({ body: JSON.stringify({ token: `token-${userName}`, userName }) });
      }),
      "/user/echo": apiHandler((request) => apiResponse({ body: JSON.stringify(request) })),
    },
  };
}
