import { describe, expect, it } from "vitest";
import { agrees } from "../../src/analytics/agreement.ts";
import { renderBody } from "../../src/upstream/body/apply.ts";
import {
  askDiagnostics,
  diagnosticsField,
  hideDiagnostics,
  hideStreamDiagnostics,
  messageFacts,
} from "../../src/upstream/diagnostics.ts";

describe("askDiagnostics edits the forwarded bytes", () => {
  it("adds diagnostics first, every other byte as it was", () => {
    const raw = '  {"model":"m", "messages" : [] }';
    expect(askDiagnostics(raw, "msg_01abc")).toBe(
      '  {"diagnostics":{"previous_message_id":"msg_01abc"},"model":"m", "messages" : [] }',
    );
    expect(JSON.parse(askDiagnostics(raw, null)).diagnostics).toEqual({ previous_message_id: null });
  });

  it("a rendered body takes the same field first in its own join, markers and top-level fields kept", () => {
    const raw = '  {"model":"m", "messages" : [{"role":"user","content":[{"type":"text","text":"hi"}]}] }';
    const marker = {
      path: ["messages", 0, "content", 0],
      key: "cache_control",
      value: { type: "ephemeral" },
      textType: "text",
    };
    const body = renderBody(raw, [], [marker], [{ key: "extra", value: 1 }]);
    const field = diagnosticsField("msg_01abc");
    // The same bytes as editing the rendered text, without reading it.
    expect(body.withLeadingField(field)).toBe(askDiagnostics(body.text, "msg_01abc"));
    expect(JSON.parse(body.withLeadingField(field))).toEqual({
      diagnostics: { previous_message_id: "msg_01abc" },
      model: "m",
      messages: [
        { role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral" } }] },
      ],
      extra: 1,
    });
    // As bytes from the client's own: the very bytes the text encodes to, with the field or without.
    const enc = new TextEncoder();
    expect(body.bytes(enc.encode(raw), field)).toEqual(enc.encode(body.withLeadingField(field)));
    expect(body.bytes(enc.encode(raw))).toEqual(enc.encode(body.text));
    // Not all ASCII: string offsets are not byte offsets, so no bytes (the caller encodes the text).
    const accented = raw.replace('"hi"', '"héllo"');
    expect(renderBody(accented, [], [marker], []).bytes(enc.encode(accented), field)).toBeNull();
    // An ASCII body whose edits are not (an escape JSON.parse read, written back as the character).
    const escaped = raw.replace('"hi"', '"h\\u00e9"');
    const edit = { path: ["messages", 0, "content", 0, "text"], value: "h\u00e9 \u{1f600}" };
    const edited = renderBody(escaped, [edit], [marker], [{ key: "extra", value: "\u00fc" }]);
    expect(edited.bytes(enc.encode(escaped), field)).toEqual(enc.encode(edited.withLeadingField(field)));
    expect(new TextDecoder().decode(edited.bytes(enc.encode(escaped)) ?? undefined)).toBe(edited.text);
    // Nothing rendered, and an empty object (no comma after the field, or one before a field rendered in).
    expect(renderBody(raw, [], [], []).withLeadingField(field)).toBe(askDiagnostics(raw, "msg_01abc"));
    expect(JSON.parse(renderBody(" { } ", [], [], []).withLeadingField(field))).toEqual({
      diagnostics: { previous_message_id: "msg_01abc" },
    });
    expect(JSON.parse(renderBody("{}", [], [], [{ key: "k", value: true }]).withLeadingField(field))).toEqual(
      {
        diagnostics: { previous_message_id: "msg_01abc" },
        k: true,
      },
    );
  });
});

describe("hideDiagnostics gives the client the answer it would have had", () => {
  const reason = '{"cache_miss_reason":{"type":"system_changed","cache_missed_input_tokens":4096}}';

  it("sets a JSON answer's diagnostics to null and leaves the rest byte for byte", () => {
    const text = `{"id":"msg_1", "content":[{"type":"text","text":"\\"diagnostics\\": 1"}],"diagnostics" : ${reason},"usage":{}}`;
    expect(hideDiagnostics(text)).toBe(
      '{"id":"msg_1", "content":[{"type":"text","text":"\\"diagnostics\\": 1"}],"diagnostics" : null,"usage":{}}',
    );
    expect(hideDiagnostics('{"id":"m","diagnostics":null}')).toBe('{"id":"m","diagnostics":null}');
    expect(hideDiagnostics("not json")).toBe("not json");
  });

  it("edits only message_start in a stream", () => {
    const data = `{"type":"message_start","message":{"id":"msg_1","diagnostics":${reason},"usage":{}}}`;
    expect(hideStreamDiagnostics({ event: "message_start", data, id: undefined })).toBe(
      'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","diagnostics":null,"usage":{}}}\n\n',
    );
    const delta = '{"type":"content_block_delta","delta":{"text":"diagnostics"}}';
    // Unchanged: the relay sends it as it came.
    expect(
      hideStreamDiagnostics({ event: "content_block_delta", data: delta, id: undefined }),
    ).toBeUndefined();
  });
});

describe("messageFacts fails open on whatever the upstream sends", () => {
  it("reads the id and the reason", () => {
    expect(
      messageFacts({
        id: "msg_01XY",
        diagnostics: { cache_miss_reason: { type: "tools_changed", cache_missed_input_tokens: 12 } },
      }),
    ).toEqual({ messageId: "msg_01XY", miss: { reason: "tools_changed", missedTokens: 12 } });
    expect(
      messageFacts({ id: "msg_2", diagnostics: { cache_miss_reason: { type: "unavailable" } } }),
    ).toEqual({
      messageId: "msg_2",
      miss: { reason: "unavailable", missedTokens: null },
    });
  });

  it("drops oversized or odd ids and reasons instead of failing", () => {
    for (const id of ["m".repeat(129), "msg 1", 'msg_"1', 42, null, "", { id: "x" }])
      expect(messageFacts({ id }).messageId).toBeNull();
    for (const cache_miss_reason of [
      { type: "System Changed" },
      { type: "x".repeat(41) },
      { type: 3 },
      "system_changed",
      null,
    ])
      expect(messageFacts({ id: "msg_1", diagnostics: { cache_miss_reason } }).miss).toBeNull();
    expect(
      messageFacts({
        diagnostics: { cache_miss_reason: { type: "system_changed", cache_missed_input_tokens: -1 } },
      }).miss,
    ).toEqual({ reason: "system_changed", missedTokens: null });
    expect(messageFacts(null)).toEqual({ messageId: null, miss: null });
    expect(messageFacts({ diagnostics: "yes" })).toEqual({ messageId: null, miss: null });
  });
});

describe("agreement", () => {
  it("maps Stoker's diverging segment kind to the provider's reason", () => {
    expect(agrees("system", "system_changed")).toBe(true);
    expect(agrees("tools", "tools_changed")).toBe(true);
    expect(agrees("message", "messages_changed")).toBe(true);
    expect(agrees("params", "unavailable")).toBe(true);
    expect(agrees("system", "messages_changed")).toBe(false);
    expect(agrees("message", "previous_message_not_found")).toBe(false);
  });
});
