import { runInDurableObject } from "cloudflare:test";
import type Anthropic from "@anthropic-ai/sdk";
import { classOf, emptyFamily, encodeFamily, WINDOWS } from "../../src/decide/gaps.ts";
import { anthropic, longText, namespace, simAdvance } from "./clients.ts";
import { freshTenant } from "./tenants.ts";
import { totalsAfter, tracker } from "./tracker.ts";

export interface KeepaliveRowView {
  conversation: string;
  family: string;
  cached_until: number;
  last_use: number;
  /** Prompt tokens a ping reads, and those of them a lapse would lose (beyond a 1h head). */
  tokens: number;
  exposed: number | null;
  pings: number;
  state: string;
  note: string | null;
  has_body: number;
}

/** The tenant's keepalive candidates as stored. */
export function keepaliveRows(tenantId: string): Promise<KeepaliveRowView[]> {
  return runInDurableObject(tracker(tenantId), (_i, state) =>
    state.storage.sql
      .exec<KeepaliveRowView & Record<string, SqlStorageValue>>(
        "SELECT conversation, family, cached_until, last_use, tokens, exposed, pings, state, note, (sealed IS NOT NULL) AS has_body FROM keepalive",
      )
      .toArray(),
  );
}

/**
 * Gives a family a history in which conversations that had `turns` requests came back after 5-10 minutes
 * (`share` of them) and otherwise never: as if many users had paused like that before.
 */
export async function seedFamilyHistory(
  tenantId: string,
  family: string,
  turns: number,
  share: number,
): Promise<void> {
  const table = emptyFamily();
  const base = classOf({ turns }) * WINDOWS;
  const n = 200;
  table.atRisk[base] = n;
  table.returns[base] = 0;
  table.atRisk[base + 1] = n;
  table.returns[base + 1] = Math.round(n * share);
  for (let j = 2; j < WINDOWS; j++) table.atRisk[base + j] = n - Math.round(n * share);
  const bytes = encodeFamily(table);
  const blob = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  await runInDurableObject(tracker(tenantId), (_i, state) => {
    state.storage.sql.exec(
      "INSERT INTO family_gaps (family, at, survival) VALUES (?, ?, ?) ON CONFLICT (family) DO UPDATE SET survival = excluded.survival",
      family,
      Date.now(),
      blob,
    );
  });
}

/**
 * Moves both clocks to just before the candidate lapses: the simulator's (for this namespace) by advancing
 * it, Stoker's by returning the time the sweep should run at. `simOffsetMs` is how far the simulator's clock
 * already runs ahead of real time for this namespace.
 */
export async function justBeforeLapse(
  ns: string,
  row: KeepaliveRowView,
  simOffsetMs: number,
  leadMs = 15_000,
) {
  const sweepAt = row.cached_until - leadMs;
  const advanceMs = sweepAt - (Date.now() + simOffsetMs);
  if (advanceMs > 0) await simAdvance(ns, advanceMs / 1000);
  return { sweepAt, simOffsetMs: simOffsetMs + Math.max(0, advanceMs) };
}

export const KEEPALIVE_MODEL = "claude-sonnet-4-6";

/**
 * Two quick turns of a conversation with a long system prompt, for a fresh tenant in a fresh simulator
 * namespace, once both are recorded: the keepalive candidate they left, and what a next turn needs.
 */
/**
 * Two quick turns of one conversation on a long system prompt through `client`, recorded; the tenant's
 * keepalive candidate for it and the messages so far (the next turn appends to them). The turns are long
 * enough that the conversation beyond the head (which a new tenant gets written for the hour) is worth a ping.
 */
export async function twoTurns(client: Anthropic, tenantId: string, system = longText(3000, "rules")) {
  const messages: Anthropic.MessageParam[] = [];
  for (let turn = 0; turn < 2; turn++) {
    messages.push({ role: "user", content: `Turn ${turn}: ${longText(1500, `u${turn}`)}` });
    const reply = await client.messages.create({
      model: KEEPALIVE_MODEL,
      max_tokens: 32,
      system,
      messages: [...messages],
    });
    messages.push({ role: "assistant", content: reply.content });
  }
  await totalsAfter(tenantId, 2);
  const [row] = await keepaliveRows(tenantId);
  if (!row) throw new Error("no keepalive candidate after two turns");
  return { row, messages, system };
}

export async function twoTurnConversation() {
  const ns = namespace();
  const t = freshTenant();
  const client = anthropic(ns, { apiKey: t.key });
  const { row, messages, system } = await twoTurns(client, t.id);
  /** The third turn, sent now. */
  const third = () => {
    messages.push({ role: "user", content: "Turn 2: and now?" });
    return client.messages.create({
      model: KEEPALIVE_MODEL,
      max_tokens: 32,
      system,
      messages: [...messages],
    });
  };
  return { ns, t, row, third };
}
