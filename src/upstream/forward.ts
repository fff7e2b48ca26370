import { StokerError } from "../core/errors.ts";

export interface ForwardRequest {
  url: string;
  headers: Headers;
  /** Text, or a body's bytes as the client sent them (over the analysis budget). */
  body: string | Uint8Array;
  /** Time allowed until the response headers arrive. The body (a stream) is never cut by it. */
  timeoutMs: number;
  /** The client's own signal: a client that goes away cancels the upstream call. */
  signal?: AbortSignal;
}

/** Sends one request upstream. Unreachable -> 502, no headers in time -> 504, both as StokerError. */
export async function forward(req: ForwardRequest): Promise<Response> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, req.timeoutMs);
  const onClientAbort = () => controller.abort();
  req.signal?.addEventListener("abort", onClientAbort);
  try {
    return await fetch(req.url, {
      method: "POST",
      headers: req.headers,
      body: req.body,
      signal: controller.signal,
    });
  } catch {
    if (timedOut) {
      throw new StokerError(
        504,
        "timeout_error",
        `The upstream did not answer within ${Math.round(req.timeoutMs / 1000)} s.`,
      );
    }
    throw new StokerError(502, "bad_gateway", "The upstream could not be reached.");
  } finally {
    clearTimeout(timer);
    req.signal?.removeEventListener("abort", onClientAbort);
  }
}
