import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createGpuBackend, type GpuBackend, type GpuBackendOptions } from "./app.ts";

/** A simulated GPU backend listening on a real port. */
export interface RunningGpuBackend {
  url: string;
  backend: GpuBackend;
  close(): Promise<void>;
}

/** Starts one simulated vLLM backend on a Node HTTP server (port 0: a free one). */
export function startGpuBackend(
  opts: GpuBackendOptions & { port?: number; host?: string } = {},
): Promise<RunningGpuBackend> {
  const { port = 0, host = "127.0.0.1", ...options } = opts;
  const backend = createGpuBackend(options);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: backend.fetch, port, hostname: host }, (info: AddressInfo) => {
      resolve({
        url: `http://${host}:${info.port}`,
        backend,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            if ("closeAllConnections" in server) server.closeAllConnections();
          }),
      });
    });
    server.once("error", reject);
  });
}

/** A URL nothing listens on (a backend that is down): a port that was free a moment ago. */
export async function deadUrl(host = "127.0.0.1"): Promise<string> {
  const b = await startGpuBackend({ host });
  await b.close();
  return b.url;
}
