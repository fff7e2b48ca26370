// Held-out text for the token-estimate error (the weights were fitted on other files, see fit-tokens.ts):
// English docs with code, JavaScript, JSON, Chinese prose. Imported as raw strings (Vite `?raw`).

import biomeZhTw from "../../node_modules/@biomejs/biome/README.zh-TW.md?raw";
import expectTypeReadme from "../../node_modules/expect-type/README.md?raw";
import honoContext from "../../node_modules/hono/dist/context.js?raw";
import honoUrl from "../../node_modules/hono/dist/utils/url.js?raw";
import picomatchReadme from "../../node_modules/picomatch/README.md?raw";
import tinybenchReadme from "../../node_modules/tinybench/README.md?raw";
import vitestPackage from "../../node_modules/vitest/package.json?raw";
import wranglerPackage from "../../node_modules/wrangler/package.json?raw";

export const CORPUS: Readonly<Record<string, string>> = {
  "docs-en": picomatchReadme + expectTypeReadme + tinybenchReadme,
  "code-js": honoContext + honoUrl,
  json: vitestPackage + wranglerPackage,
  "prose-zh": biomeZhTw,
};
