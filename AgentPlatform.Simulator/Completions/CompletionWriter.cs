using System.Buffers;
using System.Text.Json;

namespace AgentPlatform.Simulator.Completions;

/// <summary>Writes a <see cref="SimulatedCompletion"/> in OpenAI's wire formats.</summary>
public static class CompletionWriter
{
    private static ReadOnlySpan<byte> DataPrefix => "data: "u8;
    private static ReadOnlySpan<byte> EventEnd => "\n\n"u8;
    public static ReadOnlySpan<byte> Done => "data: [DONE]\n\n"u8;

    /// <summary>A <c>chat.completion</c> object.</summary>
    public static void WriteJson(IBufferWriter<byte> output, SimulatedCompletion completion)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        WriteHeader(writer, completion, "chat.completion");
        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteNumber("index", 0);
        writer.WriteStartObject("message");
        writer.WriteString("role", "assistant");
        if (completion.ToolCall is { } call)
        {
            writer.WriteNull("content");
            writer.WriteStartArray("tool_calls");
            WriteToolCall(writer, call, index: null);
            writer.WriteEndArray();
        }
        else
        {
            writer.WriteString("content", completion.Content);
        }
        writer.WriteNull("refusal");
        writer.WriteEndObject();
        writer.WriteNull("logprobs");
        writer.WriteString("finish_reason", completion.FinishReason);
        writer.WriteEndObject();
        writer.WriteEndArray();
        WriteUsage(writer, completion);
        writer.WriteEndObject();
    }

    /// <summary>The first chunk: the assistant role and empty content.</summary>
    public static void WriteRoleChunk(IBufferWriter<byte> output, SimulatedCompletion completion) =>
        WriteChunk(output, completion, static (writer, _) =>
        {
            writer.WriteString("role", "assistant");
            writer.WriteString("content", "");
        }, finishReason: null, state: 0);

    public static void WriteTokenChunk(IBufferWriter<byte> output, SimulatedCompletion completion, int token) =>
        WriteChunk(output, completion, static (writer, state) =>
            writer.WriteString("content", state.completion.Tokens[state.token]), finishReason: null, state: (completion, token));

    public static void WriteToolCallChunk(IBufferWriter<byte> output, SimulatedCompletion completion) =>
        WriteChunk(output, completion, static (writer, call) =>
        {
            writer.WriteStartArray("tool_calls");
            WriteToolCall(writer, call, index: 0);
            writer.WriteEndArray();
        }, finishReason: null, state: completion.ToolCall!);

    public static void WriteFinishChunk(IBufferWriter<byte> output, SimulatedCompletion completion) =>
        WriteChunk(output, completion, static (_, _) => { }, completion.FinishReason, state: 0);

    /// <summary>The last chunk when <c>stream_options.include_usage</c> is set: no choices, only usage.</summary>
    public static void WriteUsageChunk(IBufferWriter<byte> output, SimulatedCompletion completion)
    {
        output.Write(DataPrefix);
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            WriteHeader(writer, completion, "chat.completion.chunk");
            writer.WriteStartArray("choices");
            writer.WriteEndArray();
            WriteUsage(writer, completion);
            writer.WriteEndObject();
        }
        output.Write(EventEnd);
    }

    private static void WriteChunk<TState>(
        IBufferWriter<byte> output, SimulatedCompletion completion, Action<Utf8JsonWriter, TState> writeDelta, string? finishReason, TState state)
    {
        output.Write(DataPrefix);
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            WriteHeader(writer, completion, "chat.completion.chunk");
            writer.WriteStartArray("choices");
            writer.WriteStartObject();
            writer.WriteNumber("index", 0);
            writer.WriteStartObject("delta");
            writeDelta(writer, state);
            writer.WriteEndObject();
            writer.WriteNull("logprobs");
            if (finishReason is null)
            {
                writer.WriteNull("finish_reason");
            }
            else
            {
                writer.WriteString("finish_reason", finishReason);
            }
            writer.WriteEndObject();
            writer.WriteEndArray();
            if (completion.IncludeUsage)
            {
                writer.WriteNull("usage");
            }
            writer.WriteEndObject();
        }
        output.Write(EventEnd);
    }

    private static void WriteHeader(Utf8JsonWriter writer, SimulatedCompletion completion, string objectType)
    {
        writer.WriteString("id", completion.Id);
        writer.WriteString("object", objectType);
        writer.WriteNumber("created", completion.Created);
        writer.WriteString("model", completion.Model);
        writer.WriteString("system_fingerprint", "fp_agentplatform_sim");
    }

    private static void WriteToolCall(Utf8JsonWriter writer, SimulatedToolCall call, int? index)
    {
        writer.WriteStartObject();
        if (index is { } i)
        {
            writer.WriteNumber("index", i);
        }
        writer.WriteString("id", call.Id);
        writer.WriteString("type", "function");
        writer.WriteStartObject("function");
        writer.WriteString("name", call.Name);
        writer.WriteString("arguments", call.Arguments);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteUsage(Utf8JsonWriter writer, SimulatedCompletion completion)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", completion.PromptTokens);
        writer.WriteNumber("completion_tokens", completion.CompletionTokens);
        writer.WriteNumber("total_tokens", completion.PromptTokens + completion.CompletionTokens);
        writer.WriteStartObject("prompt_tokens_details");
        writer.WriteNumber("cached_tokens", completion.CachedTokens);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
