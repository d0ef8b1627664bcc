using System.Buffers;
using System.Text.Json;
using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Router.Providers.Anthropic;

/// <summary>Anthropic's answers — messages, errors and their pieces — written in OpenAI's format.</summary>
public static class AnthropicAnswerTranslator
{
    /// <summary>A Messages API <c>message</c> as a <c>chat.completion</c>.</summary>
    public static void WriteCompletion(IBufferWriter<byte> output, JsonElement message, long created)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        ChatCompletionJson.WriteCompletionHeader(writer, String(message, "id") ?? "", created, String(message, "model") ?? "");
        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteNumber("index", 0);
        writer.WriteStartObject("message");
        writer.WriteString("role", "assistant");

        var text = new System.Text.StringBuilder();
        var hasText = false;
        var hasTools = false;
        if (message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
        {
            foreach (var block in content.EnumerateArray())
            {
                if (String(block, "type") == "text")
                {
                    text.Append(String(block, "text"));
                    hasText = true;
                }
                hasTools |= String(block, "type") == "tool_use";
            }
        }
        if (hasText)
        {
            writer.WriteString("content", text.ToString());
        }
        else
        {
            writer.WriteNull("content");
        }
        if (hasTools)
        {
            writer.WriteStartArray("tool_calls");
            foreach (var block in content.EnumerateArray().Where(b => String(b, "type") == "tool_use"))
            {
                ChatCompletionJson.WriteToolCall(writer, index: null, String(block, "id") ?? "", String(block, "name") ?? "",
                    block.TryGetProperty("input", out var input) ? input.GetRawText() : "{}");
            }
            writer.WriteEndArray();
        }
        writer.WriteNull("refusal");
        writer.WriteEndObject();
        writer.WriteNull("logprobs");
        writer.WriteString("finish_reason", FinishReason(String(message, "stop_reason")));
        writer.WriteEndObject();
        writer.WriteEndArray();
        if (message.TryGetProperty("usage", out var usage))
        {
            WriteUsage(writer, Usage.From(usage));
        }
        writer.WriteEndObject();
    }

    /// <summary>Anthropic's <c>{"type":"error","error":{"type","message"}}</c> as OpenAI's <c>{"error":{...}}</c>.</summary>
    public static void WriteError(IBufferWriter<byte> output, JsonElement error)
    {
        var inner = error.TryGetProperty("error", out var e) ? e : error;
        using var writer = new Utf8JsonWriter(output);
        WriteErrorObject(writer, String(inner, "message") ?? "The provider returned an error.", String(inner, "type") ?? "api_error");
    }

    // Anthropic's error types (invalid_request_error, authentication_error, rate_limit_error...) are
    // OpenAI's names too, apart from api_error and overloaded_error: the type is the code as well.
    public static void WriteErrorObject(Utf8JsonWriter writer, string message, string type) =>
        OpenAIError.WriteObject(writer, message, type, code: type);

    /// <summary>Anthropic's stop reasons in OpenAI's words.</summary>
    public static string? FinishReason(string? stopReason) => stopReason switch
    {
        null => null,
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop", // end_turn, stop_sequence, pause_turn
    };

    public static void WriteUsage(Utf8JsonWriter writer, Usage usage) =>
        ChatCompletionJson.WriteUsage(writer, usage.PromptTokens, usage.CacheReadTokens, usage.OutputTokens);

    public static string? String(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    /// <summary>
    /// Anthropic's usage: input tokens are split into uncached, written to the cache and read from it;
    /// OpenAI's prompt tokens are all three, with the cache reads also given as cached tokens.
    /// </summary>
    public readonly record struct Usage(long InputTokens, long CacheCreationTokens, long CacheReadTokens, long OutputTokens)
    {
        public long PromptTokens => InputTokens + CacheCreationTokens + CacheReadTokens;

        public static Usage From(JsonElement usage) => new(
            Number(usage, "input_tokens"), Number(usage, "cache_creation_input_tokens"),
            Number(usage, "cache_read_input_tokens"), Number(usage, "output_tokens"));

        /// <summary>Later figures (a stream's message_delta) replace earlier ones where given.</summary>
        public Usage Merge(JsonElement usage) => new(
            Later(usage, "input_tokens", InputTokens), Later(usage, "cache_creation_input_tokens", CacheCreationTokens),
            Later(usage, "cache_read_input_tokens", CacheReadTokens), Later(usage, "output_tokens", OutputTokens));

        private static long Number(JsonElement usage, string name) => Later(usage, name, 0);

        private static long Later(JsonElement usage, string name, long current) =>
            usage.TryGetProperty(name, out var value) && value.TryGetInt64(out var number) ? number : current;
    }
}
