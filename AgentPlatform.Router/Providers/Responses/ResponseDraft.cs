using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgentPlatform.Contracts.Usage;

namespace AgentPlatform.Router.Providers.Responses;

/// <summary>
/// A Responses API <c>response</c> being made from a chat answer — a completion whole, or a stream's chunks
/// as they come: its text (one <c>message</c> output item), its function calls (one <c>function_call</c>
/// item each), why it ended and its usage; written as the response object.
/// </summary>
internal sealed class ResponseDraft
{
    public sealed class Call(string itemId, string callId, string name)
    {
        public string ItemId { get; } = itemId;
        public string CallId { get; } = callId;
        public string Name { get; } = name;
        public StringBuilder Arguments { get; } = new();
    }

    public string Id { get; } = NewId("resp_");
    public string MessageId { get; } = NewId("msg_");
    public long CreatedAt { get; set; }
    public string Model { get; set; } = "";
    public StringBuilder Text { get; } = new();
    public List<Call> Calls { get; } = [];
    public string? FinishReason { get; set; }
    public byte[]? Usage { get; set; }

    /// <summary>The draft of a whole completion (its first choice).</summary>
    public static ResponseDraft Of(JsonElement completion)
    {
        var draft = new ResponseDraft { Model = JsonFields.String(completion, "model") ?? "", CreatedAt = completion.TryGetProperty("created", out var c) && c.TryGetInt64(out var s) ? s : 0 };
        if (completion.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0)
        {
            var choice = choices[0];
            draft.FinishReason = JsonFields.String(choice, "finish_reason");
            if (choice.TryGetProperty("message", out var message))
            {
                draft.Text.Append(JsonFields.String(message, "content"));
                if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                {
                    foreach (var call in calls.EnumerateArray())
                    {
                        var function = call.TryGetProperty("function", out var f) ? f : default;
                        draft.AddCall(JsonFields.String(call, "id") ?? "", JsonFields.String(function, "name") ?? "").Arguments.Append(JsonFields.String(function, "arguments"));
                    }
                }
            }
        }
        if (completion.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            draft.Usage = JsonMarshal.GetRawUtf8Value(usage).ToArray();
        }
        return draft;
    }

    public Call AddCall(string callId, string name)
    {
        var call = new Call(NewId("fc_"), callId, name);
        Calls.Add(call);
        return call;
    }

    /// <summary><c>completed</c>, or <c>incomplete</c> when the answer stopped at its token limit.</summary>
    public string Status => FinishReason == "length" ? "incomplete" : "completed";

    /// <summary>The response object; <paramref name="final"/> false writes it as a stream begins it (in progress, no output).</summary>
    public void Write(Utf8JsonWriter writer, bool final = true)
    {
        writer.WriteStartObject();
        writer.WriteString("id", Id);
        writer.WriteString("object", "response");
        writer.WriteNumber("created_at", CreatedAt);
        writer.WriteString("status", final ? Status : "in_progress");
        writer.WriteNull("error");
        if (final && Status == "incomplete")
        {
            writer.WriteStartObject("incomplete_details");
            writer.WriteString("reason", "max_output_tokens");
            writer.WriteEndObject();
        }
        else
        {
            writer.WriteNull("incomplete_details");
        }
        writer.WriteString("model", Model);
        writer.WriteStartArray("output");
        if (final)
        {
            if (Text.Length > 0)
            {
                WriteMessage(writer, "completed");
            }
            foreach (var call in Calls)
            {
                WriteCall(writer, call, "completed");
            }
        }
        writer.WriteEndArray();
        writer.WriteBoolean("parallel_tool_calls", true);
        writer.WriteString("tool_choice", "auto");
        writer.WriteStartArray("tools");
        writer.WriteEndArray();
        writer.WriteStartObject("text");
        writer.WriteStartObject("format");
        writer.WriteString("type", "text");
        writer.WriteEndObject();
        writer.WriteEndObject();
        if (final)
        {
            WriteUsage(writer);
        }
        else
        {
            writer.WriteNull("usage");
        }
        writer.WriteEndObject();
    }

    /// <summary>The message output item: its one <c>output_text</c> part (empty while <paramref name="status"/> is in progress).</summary>
    public void WriteMessage(Utf8JsonWriter writer, string status)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "message");
        writer.WriteString("id", MessageId);
        writer.WriteString("status", status);
        writer.WriteString("role", "assistant");
        writer.WriteStartArray("content");
        if (status == "completed")
        {
            WriteTextPart(writer, Text.ToString());
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    public static void WriteTextPart(Utf8JsonWriter writer, string text)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "output_text");
        writer.WriteString("text", text);
        writer.WriteStartArray("annotations");
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    public static void WriteCall(Utf8JsonWriter writer, Call call, string status)
    {
        writer.WriteStartObject();
        writer.WriteString("type", "function_call");
        writer.WriteString("id", call.ItemId);
        writer.WriteString("call_id", call.CallId);
        writer.WriteString("name", call.Name);
        writer.WriteString("arguments", status == "completed" ? call.Arguments.ToString() : "");
        writer.WriteString("status", status);
        writer.WriteEndObject();
    }

    /// <summary>The chat usage in the Responses API's terms: input (cached among them), output, total.</summary>
    private void WriteUsage(Utf8JsonWriter writer)
    {
        var usage = Usage is null ? null : UsageReader.FromUsageObject(Usage);
        var (input, output, cached) = usage is { } u ? (u.InputTokens, u.OutputTokens, u.CachedInputTokens) : (0, 0, 0);
        writer.WriteStartObject("usage");
        writer.WriteNumber("input_tokens", input);
        writer.WriteStartObject("input_tokens_details");
        writer.WriteNumber("cached_tokens", cached);
        writer.WriteEndObject();
        writer.WriteNumber("output_tokens", output);
        writer.WriteStartObject("output_tokens_details");
        writer.WriteNumber("reasoning_tokens", 0);
        writer.WriteEndObject();
        writer.WriteNumber("total_tokens", input + output);
        if (usage is { CacheWriteInputTokens: > 0 } written)
        {
            // Anthropic's prompt-cache writes, which it prices apart (read back by the platform's usage reader).
            writer.WriteNumber("cache_creation_input_tokens", written.CacheWriteInputTokens);
        }
        writer.WriteEndObject();
    }

    private static string NewId(string prefix) => prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
