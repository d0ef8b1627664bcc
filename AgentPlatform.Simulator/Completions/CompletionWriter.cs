using System.Buffers;
using System.Text.Json;
using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Simulator.Completions;

/// <summary>Writes a <see cref="SimulatedCompletion"/> in OpenAI's wire formats.</summary>
public static class CompletionWriter
{
    private const string Fingerprint = "fp_agentplatform_sim";

    public static ReadOnlySpan<byte> Done => ChatCompletionJson.Done;

    /// <summary>A <c>chat.completion</c> object.</summary>
    public static void WriteJson(IBufferWriter<byte> output, SimulatedCompletion completion)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        ChatCompletionJson.WriteCompletionHeader(writer, completion.Id, completion.Created, completion.Model, Fingerprint);
        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteNumber("index", 0);
        writer.WriteStartObject("message");
        writer.WriteString("role", "assistant");
        if (completion.ToolCall is { } call)
        {
            writer.WriteNull("content");
            writer.WriteStartArray("tool_calls");
            ChatCompletionJson.WriteToolCall(writer, index: null, call.Id, call.Name, call.Arguments);
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
            ChatCompletionJson.WriteToolCall(writer, index: 0, call.Id, call.Name, call.Arguments);
            writer.WriteEndArray();
        }, finishReason: null, state: completion.ToolCall!);

    public static void WriteFinishChunk(IBufferWriter<byte> output, SimulatedCompletion completion) =>
        WriteChunk(output, completion, static (_, _) => { }, completion.FinishReason, state: 0);

    /// <summary>The last chunk when <c>stream_options.include_usage</c> is set: no choices, only usage.</summary>
    public static void WriteUsageChunk(IBufferWriter<byte> output, SimulatedCompletion completion)
    {
        using var writer = new Utf8JsonWriter(output);
        ChatCompletionJson.BeginEvent(output, writer);
        ChatCompletionJson.WriteChunkHeader(writer, completion.Id, completion.Created, completion.Model, Fingerprint);
        ChatCompletionJson.WriteNoChoices(writer);
        WriteUsage(writer, completion);
        ChatCompletionJson.EndEvent(output, writer);
    }

    private static void WriteChunk<TState>(
        IBufferWriter<byte> output, SimulatedCompletion completion, Action<Utf8JsonWriter, TState> writeDelta, string? finishReason, TState state)
    {
        using var writer = new Utf8JsonWriter(output);
        ChatCompletionJson.BeginEvent(output, writer);
        ChatCompletionJson.WriteChunkHeader(writer, completion.Id, completion.Created, completion.Model, Fingerprint);
        ChatCompletionJson.WriteChoiceDelta(writer, 0, state, writeDelta, finishReason);
        if (completion.IncludeUsage)
        {
            writer.WriteNull("usage");
        }
        ChatCompletionJson.EndEvent(output, writer);
    }

    private static void WriteUsage(Utf8JsonWriter writer, SimulatedCompletion completion) =>
        ChatCompletionJson.WriteUsage(writer, completion.PromptTokens, completion.CachedTokens, completion.CompletionTokens);
}
