/** Keys the deploy holds for the compat upstreams in tests (the simulator takes any). */
export const COMPAT_DEPLOY_KEYS = {
  deepseek: "sk-deploy-deepseek-0001",
  openrouter: "sk-or-deploy-0001",
} as const;

/**
 * COMPAT_UPSTREAMS of the test deploy: the four presets pointed at the simulator's `/compat/{preset}` (DeepSeek
 * without `/v1`, as its real base URL), with deploy keys for two of them.
 */
export function compatUpstreamsJson(simUrl: string): string {
  return JSON.stringify({
    deepseek: {
      preset: "deepseek",
      base_url: `${simUrl}/compat/deepseek`,
      api_key: COMPAT_DEPLOY_KEYS.deepseek,
    },
    xai: { preset: "xai", base_url: `${simUrl}/compat/xai/v1` },
    moonshot: { preset: "moonshot", base_url: `${simUrl}/compat/moonshot/v1` },
    openrouter: {
      preset: "openrouter",
      base_url: `${simUrl}/compat/openrouter/v1`,
      api_key: COMPAT_DEPLOY_KEYS.openrouter,
    },
  });
}
