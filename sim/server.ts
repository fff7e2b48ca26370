import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createSimulator, type Simulator } from "./app.ts";
import type { SimulatorOptions } from "./options.ts";

/** Options of `startSimulator`: where to listen, plus the simulator's own options. */
export interface StartOptions extends SimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

/** A simulator listening on a real port. */
export interface RunningSimulator {
  url: string;
  port: number;
  simulator: Simulator;
  close(): Promise<void>;
}

/** Starts the simulator on a Node HTTP server. */
export function startSimulator(opts: StartOptions = {}): Promise<RunningSimulator> {
  const { port = 0, host = "127.0.0.1", ...simOptions } = opts;
  const simulator = createSimulator(simOptions);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: simulator.app.fetch, port, hostname: host }, (info: AddressInfo) => {
      const hostPart = host.includes(":") ? `[${host}]` : host;
      resolve({
        url: `http://${hostPart}:${info.port}`,
        port: info.port,
        simulator,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            // Keep-alive sockets would hold close() open until they time out.
            if ("closeAllConnections" in server) server.closeAllConnections();
          }),
      });
    });
    server.once("error", reject);
  });
}
