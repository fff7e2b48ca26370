declare namespace Cloudflare {
  interface Env {
    /** JSON of test/support/gpu-pools.ts GpuSimUrls: the simulated GPU backends of test/global-setup.ts. */
    GPU_SIM: string;
  }
}
