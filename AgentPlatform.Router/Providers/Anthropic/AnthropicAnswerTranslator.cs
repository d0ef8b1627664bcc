using System.Buffers;
using System.Text.Json;
using AgentPlatform.Contracts.Anthropic;
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
        ChatCompletionJson.WriteCompletionHeader(writer, JsonFields.String(message, "id") ?? "", created, JsonFields.String(message, "model") ?? "");
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
                if (JsonFields.String(block, "type") == "text")
                {
                    text.Append(JsonFields.String(block, "text"));
                    hasText = true;
                }
                hasTools |= JsonFields.String(block, "type") == "tool_use";
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
            foreach (var block in content.EnumerateArray().Where(b => JsonFields.String(b, "type") == "tool_use"))
            {
                ChatCompletionJson.WriteToolCall(writer, index: null, JsonFields.String(block, "id") ?? "", JsonFields.String(block, "name") ?? "",
                    block.TryGetProperty("input", out var input) ? input.GetRawText() : "{}");
            }
            writer.WriteEndArray();
        }
        writer.WriteNull("refusal");
        writer.WriteEndObject();
        writer.WriteNull("logprobs");
        writer.WriteString("finish_reason", FinishReason(JsonFields.String(message, "stop_reason")));
        writer.WriteEndObject();
        writer.WriteEndArray();
        if (message.TryGetProperty("usage", out var usage))
        {
            WriteUsage(writer, AnthropicUsage.From(usage));
        }
        writer.WriteEndObject();
    }

    /// <summary>Anthropic's <c>{"type":"error","error":{"type","message"}}</c> as OpenAI's <c>{"error":{...}}</c>.</summary>
    public static void WriteError(IBufferWriter<byte> output, JsonElement error)
    {
        var inner = error.TryGetProperty("error", out var e) ? e : error;
        using var writer = new Utf8JsonWriter(output);
        WriteErrorObject(writer, JsonFields.String(inner, "message") ?? "The provider returned an error.", JsonFields.String(inner, "type") ?? "api_error");
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

    public static void WriteUsage(Utf8JsonWriter writer, AnthropicUsage usage) =>
        ChatCompletionJson.WriteUsage(writer, usage.PromptTokens, usage.CacheReadTokens, usage.OutputTokens, usage.CacheCreationTokens);
}
