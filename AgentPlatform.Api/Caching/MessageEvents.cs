using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgentPlatform.Contracts.Http;

namespace AgentPlatform.Api.Caching;

/// <summary>
/// The cache's side of the Messages door: an Anthropic stream (its named events, as the client received
/// them) assembled into the <c>message</c> a JSON request would have got, and a stored message replayed
/// as the events a streaming request expects — so a hit comes back on the door's own wire either way.
/// </summary>
public static class MessageEvents
{
    /// <summary>
    /// The message the events make, or null when they are not a whole successful answer: no
    /// <c>message_stop</c>, an <c>error</c> event, or an event that is not Anthropic's.
    /// </summary>
    public static byte[]? Assemble(ReadOnlySpan<byte> events)
    {
        JsonObject? message = null;
        var blocks = new SortedDictionary<int, (JsonObject Block, StringBuilder? PartialJson)>();
        foreach (var range in events.Split((byte)'\n'))
        {
            var line = events[range].TrimEnd((byte)'\r');
            if (!line.StartsWith("data:"u8))
            {
                continue;
            }
            JsonObject data;
            try
            {
                data = JsonNode.Parse(line[5..]) as JsonObject ?? throw new JsonException();
            }
            catch (JsonException)
            {
                return null;
            }
            switch (String(data["type"]))
            {
                case "message_start":
                    message = data["message"] as JsonObject;
                    message?.Remove("content");
                    break;
                case "content_block_start" when Index(data) is { } index && data["content_block"] is JsonObject block:
                    data.Remove("content_block");
                    blocks[index] = (block, String(block["type"]) is "tool_use" or "server_tool_use" ? new StringBuilder() : null);
                    break;
                case "content_block_delta" when Index(data) is { } index && blocks.TryGetValue(index, out var open) && data["delta"] is JsonObject delta:
                    switch (String(delta["type"]))
                    {
                        case "text_delta": Append(open.Block, "text", String(delta["text"])); break;
                        case "thinking_delta": Append(open.Block, "thinking", String(delta["thinking"])); break;
                        case "signature_delta": open.Block["signature"] = String(delta["signature"]); break;
                        case "input_json_delta": open.PartialJson?.Append(String(delta["partial_json"])); break;
                        case "citations_delta" when delta["citation"] is { } citation:
                            ((open.Block["citations"] as JsonArray) ?? (JsonArray)(open.Block["citations"] = new JsonArray())).Add(citation.DeepClone());
                            break;
                    }
                    break;
                case "message_delta" when message is not null:
                    if (data["delta"] is JsonObject messageDelta)
                    {
                        foreach (var (name, value) in messageDelta)
                        {
                            message[name] = value?.DeepClone();
                        }
                    }
                    if (data["usage"] is JsonObject usage)
                    {
                        var merged = message["usage"] as JsonObject ?? (JsonObject)(message["usage"] = new JsonObject());
                        foreach (var (name, value) in usage)
                        {
                            merged[name] = value?.DeepClone();
                        }
                    }
                    break;
                case "message_stop" when message is not null:
                    var content = new JsonArray();
                    foreach (var (block, partialJson) in blocks.Values)
                    {
                        if (partialJson is not null)
                        {
                            block["input"] = partialJson.Length == 0 ? new JsonObject() : JsonNode.Parse(partialJson.ToString());
                        }
                        content.Add(block);
                    }
                    message["content"] = content;
                    return JsonSerializer.SerializeToUtf8Bytes(message);
                case "error":
                    return null;
            }
        }
        return null;
    }

    /// <summary>Whether a JSON answer is a whole message: Anthropic's <c>message</c> with its stop reason.</summary>
    public static bool IsComplete(JsonElement message) =>
        message.TryGetProperty("type", out var type) && type.ValueEquals("message"u8)
        && message.TryGetProperty("stop_reason", out var stop) && stop.ValueKind == JsonValueKind.String
        && message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array;

    /// <summary>
    /// Writes a stored message as Anthropic streams one: <c>message_start</c> (its usage, no content), each
    /// block opened, its text, thinking or tool input as one delta, closed; then <c>message_delta</c> with the
    /// stop reason and the output tokens, and <c>message_stop</c>.
    /// </summary>
    public static void WriteEventStream(IBufferWriter<byte> output, ReadOnlyMemory<byte> body)
    {
        using var document = JsonDocument.Parse(body);
        var message = document.RootElement;
        using var writer = new Utf8JsonWriter(output);
        WriteEvent(output, writer, "message_start", message, static (w, message) =>
        {
            w.WriteStartObject("message");
            foreach (var property in message.EnumerateObject())
            {
                if (property.NameEquals("content"))
                {
                    w.WriteStartArray("content");
                    w.WriteEndArray();
                }
                else if (property.NameEquals("stop_reason") || property.NameEquals("stop_sequence"))
                {
                    w.WriteNull(property.Name);
                }
                else
                {
                    property.WriteTo(w);
                }
            }
            w.WriteEndObject();
        });
        var index = 0;
        foreach (var block in message.GetProperty("content").EnumerateArray())
        {
            WriteBlock(output, writer, index++, block);
        }
        WriteEvent(output, writer, "message_delta", message, static (w, message) =>
        {
            w.WriteStartObject("delta");
            foreach (var name in (ReadOnlySpan<string>)["stop_reason", "stop_sequence"])
            {
                if (message.TryGetProperty(name, out var value))
                {
                    w.WritePropertyName(name);
                    value.WriteTo(w);
                }
            }
            w.WriteEndObject();
            if (message.TryGetProperty("usage", out var usage))
            {
                w.WritePropertyName("usage");
                usage.WriteTo(w);
            }
        });
        WriteEvent(output, writer, "message_stop", 0, static (_, _) => { });
    }

    private static void WriteBlock(IBufferWriter<byte> output, Utf8JsonWriter writer, int index, JsonElement block)
    {
        var type = block.TryGetProperty("type", out var t) ? t.GetString() : null;
        // What the block starts as in a stream: its text, thinking and tool input come as deltas after.
        WriteEvent(output, writer, "content_block_start", (index, block, type), static (w, state) =>
        {
            w.WriteNumber("index", state.index);
            w.WriteStartObject("content_block");
            foreach (var property in state.block.EnumerateObject())
            {
                switch (state.type, property.Name)
                {
                    case ("text", "text") or ("thinking", "thinking"):
                        w.WriteString(property.Name, "");
                        break;
                    case ("thinking", "signature"):
                        break;
                    case ("tool_use" or "server_tool_use", "input"):
                        w.WriteStartObject("input");
                        w.WriteEndObject();
                        break;
                    default:
                        property.WriteTo(w);
                        break;
                }
            }
            w.WriteEndObject();
        });
        switch (type)
        {
            case "text" when block.TryGetProperty("text", out var text):
                WriteDelta(output, writer, index, "text_delta", "text", text.GetString());
                break;
            case "thinking":
                WriteDelta(output, writer, index, "thinking_delta", "thinking", block.TryGetProperty("thinking", out var thinking) ? thinking.GetString() : "");
                if (block.TryGetProperty("signature", out var signature))
                {
                    WriteDelta(output, writer, index, "signature_delta", "signature", signature.GetString());
                }
                break;
            case "tool_use" or "server_tool_use" when block.TryGetProperty("input", out var input):
                WriteDelta(output, writer, index, "input_json_delta", "partial_json", input.GetRawText());
                break;
        }
        WriteEvent(output, writer, "content_block_stop", index, static (w, index) => w.WriteNumber("index", index));
    }

    private static void WriteDelta(IBufferWriter<byte> output, Utf8JsonWriter writer, int index, string type, string name, string? value) =>
        WriteEvent(output, writer, "content_block_delta", (index, type, name, value), static (w, state) =>
        {
            w.WriteNumber("index", state.index);
            w.WriteStartObject("delta");
            w.WriteString("type", state.type);
            w.WriteString(state.name, state.value);
            w.WriteEndObject();
        });

    private static void WriteEvent<TState>(IBufferWriter<byte> output, Utf8JsonWriter writer, string type, TState state, Action<Utf8JsonWriter, TState> body) =>
        ServerSentEvents.WriteNamed(output, writer, type, state, body);

    private static void Append(JsonObject block, string name, string? text) => block[name] = String(block[name]) + text;

    private static int? Index(JsonObject data) => data["index"] is JsonValue value && value.TryGetValue<int>(out var index) ? index : null;

    private static string? String(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
}
