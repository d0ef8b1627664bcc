using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using AgentPlatform.Contracts.Anthropic;
using AgentPlatform.Contracts.Usage;

namespace AgentPlatform.Router.Providers.Messages;

/// <summary>OpenAI's Chat Completions answers — completions, errors and their pieces — written in Anthropic's Messages format.</summary>
public static class MessagesAnswerTranslator
{
    /// <summary>A <c>chat.completion</c> (its first choice) as a Messages API <c>message</c>.</summary>
    public static void WriteMessage(IBufferWriter<byte> output, JsonElement completion)
    {
        using var writer = new Utf8JsonWriter(output);
        var choice = completion.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0
            ? choices[0]
            : default;
        var message = choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("message", out var m) ? m : default;
        writer.WriteStartObject();
        writer.WriteString("id", JsonFields.String(completion, "id") ?? "");
        writer.WriteString("type", "message");
        writer.WriteString("role", "assistant");
        writer.WriteString("model", JsonFields.String(completion, "model") ?? "");
        writer.WriteStartArray("content");
        if (JsonFields.String(message, "content") is { Length: > 0 } text)
        {
            writer.WriteStartObject();
            writer.WriteString("type", "text");
            writer.WriteString("text", text);
            writer.WriteEndObject();
        }
        if (message.ValueKind == JsonValueKind.Object && message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
        {
            foreach (var call in calls.EnumerateArray())
            {
                var function = call.TryGetProperty("function", out var f) ? f : default;
                WriteToolUseStart(writer, JsonFields.String(call, "id") ?? "", JsonFields.String(function, "name") ?? "", JsonFields.String(function, "arguments"));
                writer.WriteEndObject();
            }
        }
        writer.WriteEndArray();
        writer.WriteString("stop_reason", StopReason(JsonFields.String(choice, "finish_reason")));
        writer.WriteNull("stop_sequence");
        WriteUsage(writer, completion.TryGetProperty("usage", out var usage) ? usage : default);
        writer.WriteEndObject();
    }

    /// <summary>OpenAI's <c>{"error":{...}}</c> as Anthropic's <c>{"type":"error","error":{...}}</c>, its type from the status.</summary>
    public static void WriteError(IBufferWriter<byte> output, JsonElement error, int status)
    {
        var inner = error.ValueKind == JsonValueKind.Object && error.TryGetProperty("error", out var e) ? e : error;
        AnthropicError.WriteJson(output, status, JsonFields.String(inner, "message") ?? "The provider returned an error.", JsonFields.String(inner, "code") ?? JsonFields.String(inner, "type"));
    }

    /// <summary>OpenAI's finish reasons in Anthropic's words.</summary>
    public static string StopReason(string? finishReason) => finishReason switch
    {
        "length" => "max_tokens",
        "tool_calls" or "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    };

    /// <summary>
    /// A <c>tool_use</c> block, left open for the caller to end: its input is the call's arguments when they
    /// are a JSON object (empty in a stream, whose arguments follow as deltas), else kept whole as
    /// <c>{"arguments": "..."}</c> so nothing the model wrote is lost.
    /// </summary>
    public static void WriteToolUseStart(Utf8JsonWriter writer, string id, string name, string? arguments)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "tool_use");
        writer.WriteString("id", id);
        writer.WriteString("name", name);
        writer.WritePropertyName("input");
        if (string.IsNullOrWhiteSpace(arguments))
        {
            writer.WriteStartObject();
            writer.WriteEndObject();
            return;
        }
        try
        {
            using var input = JsonDocument.Parse(arguments);
            if (input.RootElement.ValueKind == JsonValueKind.Object)
            {
                input.RootElement.WriteTo(writer);
                return;
            }
        }
        catch (JsonException)
        {
            // Not JSON: kept as text below.
        }
        writer.WriteStartObject();
        writer.WriteString("arguments", arguments);
        writer.WriteEndObject();
    }

    /// <summary>
    /// OpenAI's usage in Anthropic's terms: its prompt tokens split into those read from the cache and the
    /// rest (and those written to it, where the server said so).
    /// </summary>
    public static void WriteUsage(Utf8JsonWriter writer, JsonElement usage)
    {
        var tokens = usage.ValueKind == JsonValueKind.Object ? UsageReader.FromUsageObject(JsonMarshal.GetRawUtf8Value(usage)) : null;
        var (prompt, output, cached, written) = tokens is { } t ? (t.InputTokens, t.OutputTokens, t.CachedInputTokens, t.CacheWriteInputTokens) : (0, 0, 0, 0);
        writer.WriteStartObject("usage");
        writer.WriteNumber("input_tokens", Math.Max(0, prompt - cached - written));
        writer.WriteNumber("cache_creation_input_tokens", written);
        writer.WriteNumber("cache_read_input_tokens", cached);
        writer.WriteNumber("output_tokens", output);
        writer.WriteEndObject();
    }
}
