import type { TestProject } from "vitest/node";
import { startSimulator } from "../sim/server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    simUrl: string;
  }
}

/** One provider simulator for the whole run, over real HTTP on loopback; tests isolate by namespace. */
export default async function setup(project: TestProject) {
  const sim = await startSimulator({ port: 0, host: "127.0.0.1" });
  project.provide("simUrl", sim.url);
  return async () => {
    await sim.close();
  };
}
