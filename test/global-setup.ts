import type { TestProject } from "vitest/node";
import { deadUrl, startGpuBackend } from "../sim/gpu/server.ts";
import { startSimulator } from "../sim/server.ts";
import type { GpuSimUrls } from "./support/gpu-pools.ts";

declare module "vitest" {
  export interface ProvidedContext {
    simUrl: string;
    gpuSim: GpuSimUrls;
  }
}

/**
 * One provider simulator for the whole run, over real HTTP on loopback (tests isolate by namespace), and four
 * simulated GPU backends (gpu3 rejects cache_salt) plus a URL nothing listens on, for the GPU pools.
 */
export default async function setup(project: TestProject) {
  const sim = await startSimulator({ port: 0, host: "127.0.0.1" });
  project.provide("simUrl", sim.url);
  const gpus = await Promise.all(
    [0, 1, 2, 3].map((i) => startGpuBackend({ name: `gpu${i}`, acceptsCacheSalt: i !== 3 })),
  );
  project.provide("gpuSim", { backends: gpus.map((g) => g.url), dead: await deadUrl() });
  return async () => {
    await Promise.all([sim.close(), ...gpus.map((g) => g.close())]);
  };
}
