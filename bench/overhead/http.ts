// One timed POST over a keep-alive node:http agent: wall time, time to response headers and time to the
// first body byte, all from performance.now() on this side. node:http rather than fetch: it adds no
// decompression or stream wrapping of its own, so the client's share of each figure is as small as it gets.
import { Agent, request } from "node:http";
import type { Upstream } from "./bodies.ts";

/**
 * A benchmark request's headers: `key` the way each upstream's clients send it, the simulator namespace, and
 * no compression (the local runtime gzips JSON for clients that accept it, the simulator never does:
 * identity keeps a platform feature, not Stoker's, out of the comparison).
 */
export function requestHeaders(upstream: Upstream, key: string, ns: string): Record<string, string> {
  const h: Record<string, string> = {
    "content-type": "application/json",
    "accept-encoding": "identity",
    "x-sim-namespace": ns,
  };
  if (upstream === "anthropic") {
    h["x-api-key"] = key;
    h["anthropic-version"] = "2023-06-01";
  } else h.authorization = `Bearer ${key}`;
  return h;
}

export interface Timing {
  status: number;
  /** Request start (body already serialized) to the last body byte. */
  wallMs: number;
  headersMs: number;
  /** Request start to the first body byte. */
  ttfbMs: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One agent per target, one socket each: concurrency 1, connections reused across requests. */
export function agent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}

export function timedPost(
  via: Agent,
  url: string,
  headers: Record<string, string>,
  body: Buffer,
  timeoutMs = 60_000,
): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      url,
      { method: "POST", agent: via, headers: { ...headers, "content-length": String(body.length) } },
      (res) => {
        const headersMs = performance.now() - t0;
        let ttfbMs = Number.NaN;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => {
          if (Number.isNaN(ttfbMs)) ttfbMs = performance.now() - t0;
          chunks.push(c);
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            wallMs: performance.now() - t0,
            headersMs,
            ttfbMs,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${url}`)));
    req.on("error", reject);
    req.end(body);
  });
}
