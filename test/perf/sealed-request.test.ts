import { describe, expect, it } from "vitest";
import { open, seal } from "../../src/core/crypto.ts";
import {
  decodeSealedRequest,
  encodeSealedRequest,
  type SealedRequest,
} from "../../src/tracker/keepalive-run.ts";

const request: SealedRequest = {
  path: "/v1/messages?beta=true",
  headers: [
    ["anthropic-version", "2023-06-01"],
    ["anthropic-beta", "a,b\nc"],
  ],
  body: '{"model":"m","messages":[{"role":"user","content":"line one\\nline \\"two\\"\\u2028"}]}\n',
  loc: { area: "messages", index: 0, block: -1 },
};

describe("a sealed keepalive request", () => {
  it("reads back as it was written, through the seal", async () => {
    const sealed = await seal("secret", "t", "hash", encodeSealedRequest(request), "keepalive");
    expect(decodeSealedRequest(await open("secret", "t", "hash", sealed, "keepalive"))).toEqual(request);
  });

  it("carries the body as it is (no escaping), after a one-line header", () => {
    const bytes = encodeSealedRequest(request);
    const text = new TextDecoder().decode(bytes);
    expect(text.endsWith(request.body)).toBe(true);
    expect(bytes.byteLength).toBeLessThan(JSON.stringify(request).length);
  });

  it("carries a body that is not all ASCII as its UTF-8, byte for byte", async () => {
    const wide = { ...request, body: request.body.replace("line one", "déjà vu, 🙂, \ud800") };
    const bytes = encodeSealedRequest(wide);
    expect(bytes).toEqual(new TextEncoder().encode(new TextDecoder().decode(bytes)));
    expect(new TextDecoder().decode(bytes).endsWith(wide.body.replace("\ud800", "\ufffd"))).toBe(true);
    const sealed = await seal("secret", "t", "hash", bytes, "keepalive");
    expect(decodeSealedRequest(await open("secret", "t", "hash", sealed, "keepalive")).body).toBe(
      wide.body.replace("\ud800", "\ufffd"),
    );
  });

  it("seals the bytes the edge sent as the same plaintext as their text, and reads them back as that text", async () => {
    const utf8 = new TextEncoder();
    for (const body of [request.body, request.body.replace("line one", "déjà vu, 🙂")]) {
      const asText = encodeSealedRequest({ ...request, body });
      const asBytes = encodeSealedRequest({ ...request, body: utf8.encode(body) });
      expect(asBytes).toEqual(asText);
      const sealed = await seal("secret", "t", "hash", asBytes, "keepalive");
      expect(decodeSealedRequest(await open("secret", "t", "hash", sealed, "keepalive"))).toEqual({
        ...request,
        body,
      });
    }
  });

  it("still reads rows sealed in the older layout (one JSON object)", () => {
    expect(decodeSealedRequest(JSON.stringify(request))).toEqual(request);
  });
});
