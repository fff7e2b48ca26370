declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("../src/index.ts");
  }
  interface Env {
    /** The provider simulator started by test/global-setup.ts. */
    SIM_URL: string;
  }
}
