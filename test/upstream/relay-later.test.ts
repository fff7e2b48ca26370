import { describe, expect, it } from "vitest";
import { anthropicMessages } from "../../src/upstream/endpoints.ts";
import { type RelayEnd, relay } from "../../src/upstream/relay.ts";

// The end's accounting goes through `later` (the proxy's afterThisTurn): the client has the whole answer, a
// JSON body or a closed stream, before it runs, and it then runs once with what the answer said.

const usage = {
  input_tokens: 7,
  cache_read_input_tokens: 100,
  cache_creation_input_tokens: 0,
  output_tokens: 3,
};
const json = JSON.stringify({
  id: "msg_1",
  type: "message",
  role: "assistant",
  content: [{ type: "text", text: "hi" }],
  stop_reason: "end_turn",
  usage,
});
const sse = [
  `event: message_start\ndata: ${JSON.stringify({ type: "message_start", message: { id: "msg_2", usage: { ...usage, output_tokens: 1 } } })}\n\n`,
  `event: message_delta\ndata: ${JSON.stringify({ type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 3 } })}\n\n`,
  `event: message_stop\ndata: {"type":"message_stop"}\n\n`,
].join("");

function relayed(body: string, type: string) {
  const held: (() => void)[] = [];
  const ends: RelayEnd[] = [];
  const response = relay({
    upstream: new Response(body, { headers: { "content-type": type } }),
    headers: new Headers({ "content-type": type }),
    startedAt: Date.now(),
    headersMs: 1,
    spec: anthropicMessages,
    source: "The upstream",
    streamJson: { hideDiagnostics: false, waitUntil: () => {} },
    later: (work) => held.push(work),
    onEnd: (e) => ends.push(e),
  });
  return { response, held, ends };
}

describe("relay: the end's accounting runs later", () => {
  for (const [kind, body, type] of [
    ["a JSON answer", json, "application/json"],
    ["a stream", sse, "text/event-stream"],
  ] as const) {
    it(`${kind}: the client has all of it before onEnd runs, then onEnd runs once with its usage`, async () => {
      const { response, held, ends } = relayed(body, type);
      expect(await (await response).text()).toBe(body);
      expect(ends).toEqual([]);
      expect(held).toHaveLength(1);
      for (const work of held) work();
      expect(ends).toHaveLength(1);
      expect(ends[0]?.result).toBe("ok");
      expect(ends[0]?.usage?.cacheReadTokens).toBe(100);
      expect(ends[0]?.usage?.outputTokens).toBe(3);
    });
  }
});
