// A conversation's turns land on whichever isolate the runtime picks. The isolate that recorded a turn
// shares the tracker's answer through the location's Cache API (src/tracker/shared-answers.ts); an isolate
// that never heard of the conversation plans its next turn from that answer instead of without state. Here
// "another isolate" is this one after forgetting everything it heard (forgetAllBeliefs).
import { env } from "cloudflare:workers";
import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { planLookup } from "../../src/tracker/client.ts";
import { forgetAllBeliefs } from "../../src/tracker/client-cache.ts";
import { SHARED_ANSWERS_CACHE, sharedAnswer, sharedAnswerKey } from "../../src/tracker/shared-answers.ts";
import { LOOK_ONE_IN, MISSES_BEFORE_SPARING } from "../../src/tracker/shared-look.ts";
import { anthropic, longText, namespace } from "../support/clients.ts";
import { prepareWithoutState } from "../support/prepare.ts";
import { freshTenant } from "../support/tenants.ts";
import { eventually, totalsAfter } from "../support/tracker.ts";

const MODEL = "claude-sonnet-4-6";
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** The conversation id Stoker gives a request of `tenantId` (its own analysis, as the proxy runs it). */
async function conversationOf(tenantId: string, body: Anthropic.MessageCreateParams): Promise<string> {
  const prepared = await prepareWithoutState(tenantId, body as unknown as Record<string, unknown>);
  return prepared.analysis?.conversation as string;
}

/**
 * A conversation's first turn through Stoker, its record heard and its answer shared; then `between` (with
 * the shared entry's key), then the second turn from an isolate that heard nothing. Returns the second
 * turn's plan and status.
 */
async function secondTurnElsewhere(
  tenant: { id: string; key: string },
  between: (key: string) => Promise<void>,
): Promise<{ plan: string | null; status: number }> {
  const client = anthropic(namespace(), { apiKey: tenant.key });
  const system = longText(2500, "rules");
  const first: Anthropic.MessageCreateParams = {
    model: MODEL,
    max_tokens: 16,
    system,
    messages: [{ role: "user", content: `First question ${tenant.id}` }],
  };
  const answer = await client.messages.create({ ...first, stream: false });
  await totalsAfter(tenant.id, 1);
  const conversation = await conversationOf(tenant.id, first);
  const shared = await eventually(
    () => sharedAnswer(tenant.id, conversation),
    (s) => s !== null,
  );
  expect(shared?.hashes.length).toBeGreaterThan(0);
  await between(sharedAnswerKey(tenant.id, conversation));
  forgetAllBeliefs();
  const { response } = await client.messages
    .create({
      ...first,
      messages: [
        ...first.messages,
        { role: "assistant", content: answer.content },
        { role: "user", content: "Second question" },
      ],
    })
    .withResponse();
  await totalsAfter(tenant.id, 2);
  return { plan: response.headers.get("x-stoker-plan"), status: response.status };
}

/**
 * A conversation's first turn through Stoker, its record heard and its answer shared: the tenant and the
 * analysis of the conversation's second turn (whose lookup would find the shared entry).
 */
async function sharedFirstTurn() {
  const t = freshTenant();
  const client = anthropic(namespace(), { apiKey: t.key });
  const first: Anthropic.MessageCreateParamsNonStreaming = {
    model: MODEL,
    max_tokens: 16,
    system: longText(2500, "rules"),
    messages: [{ role: "user", content: `First question ${t.id}` }],
  };
  const answer = await client.messages.create(first);
  await totalsAfter(t.id, 1);
  const second = {
    ...first,
    messages: [
      ...first.messages,
      { role: "assistant" as const, content: answer.content },
      { role: "user" as const, content: "Second question" },
    ],
  };
  const a = (await prepareWithoutState(t.id, second as unknown as Record<string, unknown>)).analysis;
  if (!a) throw new Error("no analysis");
  await eventually(
    () => sharedAnswer(t.id, a.conversation),
    (s) => s !== null,
  );
  return { t, a };
}

describe("answers shared between the isolates of a location", () => {
  it("plan a later turn on an isolate that never heard of its conversation; without the entry it plans without state", async () => {
    const shared = await secondTurnElsewhere(freshTenant(), async () => {});
    // Planned with what the first turn's record said: the system prompt it wrote is read.
    expect(shared.plan).toMatch(/read=[1-9]/);

    const gone = await secondTurnElsewhere(freshTenant(), async (key) => {
      expect(await (await caches.open(SHARED_ANSWERS_CACHE)).delete(key)).toBe(true);
    });
    expect(gone.status).toBe(200);
    expect(gone.plan).not.toMatch(/read=[1-9]/);
  });

  it("an entry that is not what Stoker writes changes no plan and fails no request", async () => {
    type Entry = {
      at: unknown;
      hashes: unknown;
      answer: { states: Record<string, Record<string, unknown>> };
    };
    const eachState = (e: Entry, f: (s: Record<string, unknown>) => void) => {
      for (const s of Object.values(e.answer.states)) f(s);
    };
    // Each turns the entry the first turn's record shared into one Stoker never writes; the same entry
    // unchanged plans the next turn's reads (the test above).
    const corrupt: ((e: Entry) => string)[] = [
      () => "not json",
      (e) => JSON.stringify({ ...e, at: "soon" }),
      (e) => JSON.stringify({ ...e, hashes: "all" }),
      (e) => {
        eachState(e, (s) => {
          s.cachedUntilMs = String(s.cachedUntilMs);
        });
        return JSON.stringify(e);
      },
      (e) => {
        eachState(e, (s) => {
          s.tokens = "many";
        });
        return JSON.stringify(e);
      },
    ];
    for (const f of corrupt) {
      const t = freshTenant();
      const result = await secondTurnElsewhere(t, async (key) => {
        const cache = await caches.open(SHARED_ANSWERS_CACHE);
        const entry = (await (await cache.match(key))?.json()) as Entry;
        await cache.put(key, new Response(f(entry), { headers: { "cache-control": "max-age=600" } }));
      });
      expect(result.status).toBe(200);
      expect(result.plan).not.toMatch(/read=[1-9]/);
      expect((await totalsAfter(t.id, 2)).requests).toBe(2);
    }
  });

  it("are looked for only by a request that continues a conversation, and not at all when SHARED_ANSWERS_WAIT_MS is 0", async () => {
    const { t, a } = await sharedFirstTurn();
    // What the proxy's lookup finds for the second turn on an isolate that heard nothing.
    const found = async (sharedWaitMs: number, continues: boolean) => {
      forgetAllBeliefs();
      const lookup = await planLookup(
        { env, tenantId: t.id, nowMs: Date.now(), log: silent, waitUntil: () => {}, sharedWaitMs },
        a.candidates,
        { family: a.family, conversation: a.conversation, model: a.model, continues },
      );
      return lookup.known.size;
    };
    expect(await found(500, true)).toBeGreaterThan(0);
    expect(await found(0, true)).toBe(0);
    expect(await found(500, false)).toBe(0);
  });

  it("are looked for less once a tenant's looks keep missing, and by every request again after one finds an answer", async () => {
    const { t, a } = await sharedFirstTurn();
    // The positions an isolate that heard nothing knows for `conversation`'s turn (the shared entry's, or none).
    const found = async (conversation: string) => {
      forgetAllBeliefs();
      const lookup = await planLookup(
        { env, tenantId: t.id, nowMs: Date.now(), log: silent, waitUntil: () => {}, sharedWaitMs: 500 },
        a.candidates,
        { family: a.family, conversation, model: a.model, continues: true },
      );
      return lookup.known.size;
    };
    // Continued conversations no isolate shared: every one looks and misses.
    for (let i = 0; i < MISSES_BEFORE_SPARING; i++) expect(await found(`never-shared-${i}`)).toBe(0);
    // The shared conversation is now planned without looking, until one request in LOOK_ONE_IN looks.
    const tries: number[] = [];
    for (let i = 0; i < LOOK_ONE_IN; i++) tries.push(await found(a.conversation));
    expect(tries.slice(0, -1).every((n) => n === 0)).toBe(true);
    expect(tries.at(-1)).toBeGreaterThan(0);
    // That hit made every request look again.
    expect(await found(a.conversation)).toBeGreaterThan(0);
  });
});
