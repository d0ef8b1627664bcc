using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgentPlatform.Contracts.Http;

namespace AgentPlatform.Api.Caching;

/// <summary>
/// The Responses door's answers as whole <c>response</c> objects: taken out of a stream's last event (to be
/// cached and stored), and a stored one replayed as the Responses API's events — so a hit comes back on the
/// door's own wire either way.
/// </summary>
public static class ResponseEvents
{
    /// <summary>
    /// The response a stream ends with (<c>response.completed</c>, or <c>response.incomplete</c> at the token
    /// limit), or null when the events hold none: a failed or cut stream.
    /// </summary>
    public static byte[]? Assemble(ReadOnlySpan<byte> events)
    {
        foreach (var range in events.Split((byte)'\n'))
        {
            var line = events[range].TrimEnd((byte)'\r');
            if (line.StartsWith("data:"u8)
                && (line.IndexOf("\"type\":\"response.completed\""u8) >= 0 || line.IndexOf("\"type\":\"response.incomplete\""u8) >= 0))
            {
                try
                {
                    using var document = JsonDocument.Parse(line[5..].ToArray());
                    return document.RootElement.TryGetProperty("response", out var response) && IsComplete(response)
                        ? Encoding.UTF8.GetBytes(response.GetRawText())
                        : null;
                }
                catch (JsonException)
                {
                    return null;
                }
            }
        }
        return null;
    }

    /// <summary>Whether a JSON answer is a whole response: its status <c>completed</c> or <c>incomplete</c>, its output a list.</summary>
    public static bool IsComplete(JsonElement response) =>
        response.TryGetProperty("object", out var type) && type.ValueEquals("response"u8)
        && response.TryGetProperty("status", out var status) && (status.ValueEquals("completed"u8) || status.ValueEquals("incomplete"u8))
        && response.TryGetProperty("output", out var output) && output.ValueKind == JsonValueKind.Array;

    /// <summary>
    /// Writes a stored response as the Responses API streams one, each event with its <c>sequence_number</c>:
    /// <c>response.created</c> and <c>response.in_progress</c> (no output yet), then per output item its
    /// <c>output_item.added</c>, its text parts or function arguments as one delta each with their <c>.done</c>
    /// events, and <c>output_item.done</c>; last <c>response.completed</c> (or <c>response.incomplete</c>) with the
    /// whole response.
    /// </summary>
    public static void WriteEventStream(IBufferWriter<byte> output, ReadOnlyMemory<byte> body)
    {
        var response = JsonNode.Parse(body.Span) as JsonObject ?? throw new JsonException("A cached response is not a JSON object.");
        var events = new EventWriter(output);
        var begun = (JsonObject)response.DeepClone();
        begun["status"] = "in_progress";
        begun["output"] = new JsonArray();
        begun["usage"] = null;
        events.Write("response.created", new JsonObject { ["response"] = begun.DeepClone() });
        events.Write("response.in_progress", new JsonObject { ["response"] = begun });
        var items = response["output"] as JsonArray ?? [];
        for (var index = 0; index < items.Count; index++)
        {
            if (items[index] is JsonObject item)
            {
                WriteItem(events, index, item);
            }
        }
        var status = response["status"]?.GetValue<string>() == "incomplete" ? "response.incomplete" : "response.completed";
        events.Write(status, new JsonObject { ["response"] = response });
    }

    private static void WriteItem(EventWriter events, int index, JsonObject item)
    {
        var id = item["id"]?.DeepClone();
        var type = item["type"]?.GetValue<string>();
        var begun = (JsonObject)item.DeepClone();
        begun["status"] = "in_progress";
        if (type == "message")
        {
            begun["content"] = new JsonArray();
        }
        else if (type == "function_call")
        {
            begun["arguments"] = "";
        }
        events.Write("response.output_item.added", new JsonObject { ["output_index"] = index, ["item"] = begun });
        if (type == "message" && item["content"] is JsonArray parts)
        {
            for (var part = 0; part < parts.Count; part++)
            {
                var pointer = new JsonObject { ["item_id"] = id?.DeepClone(), ["output_index"] = index, ["content_index"] = part };
                var whole = parts[part]?.DeepClone() as JsonObject ?? [];
                var partType = whole["type"]?.GetValue<string>();
                var (deltaType, field) = partType == "refusal" ? ("response.refusal", "refusal") : ("response.output_text", "text");
                var empty = (JsonObject)whole.DeepClone();
                empty[field] = "";
                events.Write("response.content_part.added", With(pointer, "part", empty));
                var text = whole[field]?.GetValue<string>() ?? "";
                events.Write($"{deltaType}.delta", With(pointer, "delta", text));
                events.Write($"{deltaType}.done", With(pointer, field, text));
                events.Write("response.content_part.done", With(pointer, "part", whole));
            }
        }
        else if (type == "function_call")
        {
            var arguments = item["arguments"]?.GetValue<string>() ?? "";
            var pointer = new JsonObject { ["item_id"] = id?.DeepClone(), ["output_index"] = index };
            events.Write("response.function_call_arguments.delta", With(pointer, "delta", arguments));
            events.Write("response.function_call_arguments.done", With(pointer, "arguments", arguments));
        }
        events.Write("response.output_item.done", new JsonObject { ["output_index"] = index, ["item"] = item.DeepClone() });
    }

    private static JsonObject With(JsonObject pointer, string name, JsonNode? value)
    {
        var data = (JsonObject)pointer.DeepClone();
        data[name] = value;
        return data;
    }

    /// <summary>Writes each event with its <c>sequence_number</c>, counting them.</summary>
    private sealed class EventWriter(IBufferWriter<byte> output)
    {
        private readonly Utf8JsonWriter _writer = new(output);
        private int _sequence;

        public void Write(string type, JsonObject data) =>
            ServerSentEvents.WriteNamed(output, _writer, type, (Sequence: _sequence++, Data: data), static (w, e) =>
            {
                w.WriteNumber("sequence_number", e.Sequence);
                foreach (var (name, value) in e.Data)
                {
                    w.WritePropertyName(name);
                    if (value is null)
                    {
                        w.WriteNullValue();
                    }
                    else
                    {
                        value.WriteTo(w);
                    }
                }
            });
    }
}
