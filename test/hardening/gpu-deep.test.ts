import { describe, expect, it } from "vitest";
import { STOKER, workerFetch } from "../support/clients.ts";
import { backendRequestsWithHeader, gpuSim } from "../support/gpu.ts";
import { HARNESS_POOL } from "../support/routes.ts";
import { TEST_TENANTS } from "../support/tenants.ts";

// Found by the fuzz harness once it walked /gpu/* (issue 18): a body nested 100,000 deep made the GPU route
// answer an opaque 500 (the stack ran out rendering its prompt and cache_salt). It cannot fail open (the
// body would go without its tenant's cache_salt): it is a 400 in OpenAI's shape, and no backend sees it.
describe("a GPU request nested too deeply", () => {
  it("is a 400 in OpenAI's shape on both GPU endpoints, and reaches no backend", async () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const bodies: [string, string][] = [
      [
        "chat/completions",
        `{"model":"llama-3.1-8b","max_tokens":8,"messages":[{"role":"system","content":${deep}},{"role":"user","content":"hi"}]}`,
      ],
      ["completions", `{"model":"llama-3.1-8b","max_tokens":${deep},"prompt":"hi"}`],
    ];
    for (const [path, body] of bodies) {
      const mark = crypto.randomUUID();
      const res = await workerFetch(`${STOKER}/gpu/${HARNESS_POOL}/v1/${path}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${TEST_TENANTS.alpha}`,
          "content-type": "application/json",
          "x-mark": mark,
        },
        body,
      });
      expect(res.status, path).toBe(400);
      expect(await res.json()).toEqual({
        error: {
          message: "The request body is nested too deeply.",
          type: "invalid_request_error",
          param: null,
          code: null,
        },
      });
      const seen = await Promise.all(
        gpuSim().backends.map((u) => backendRequestsWithHeader(u, "x-mark", mark)),
      );
      expect(seen.flat()).toEqual([]);
    }
  });
});
