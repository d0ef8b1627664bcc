using System.Buffers;
using System.Text.Json;

namespace AgentPlatform.Contracts.OpenAI;

/// <summary>
/// The pieces of OpenAI's Chat Completions answers — a stream's <c>chat.completion.chunk</c> events, the
/// usage object, a tool call — written once for every service that makes them: the Router translating
/// Anthropic's answers, the Api streaming a cached answer, the simulator. Callers own the
/// <see cref="Utf8JsonWriter"/> (reset onto the output per event) so a stream allocates one writer.
/// </summary>
public static class ChatCompletionJson
{
    /// <summary>The event that ends a stream.</summary>
    public static ReadOnlySpan<byte> Done => "data: [DONE]\n\n"u8;

    /// <summary>Starts a <c>data: {…}</c> event on <paramref name="output"/>: the caller writes the chunk's properties, then <see cref="EndEvent"/>.</summary>
    public static void BeginEvent(IBufferWriter<byte> output, Utf8JsonWriter writer)
    {
        output.Write("data: "u8);
        writer.Reset(output);
        writer.WriteStartObject();
    }

    public static void EndEvent(IBufferWriter<byte> output, Utf8JsonWriter writer)
    {
        writer.WriteEndObject();
        writer.Flush();
        output.Write("\n\n"u8);
    }

    /// <summary>A chunk's <c>id</c>, <c>object</c>, <c>created</c>, <c>model</c> and, when given, <c>system_fingerprint</c>.</summary>
    public static void WriteChunkHeader(Utf8JsonWriter writer, string? id, long created, string? model, string? systemFingerprint = null) =>
        WriteHeader(writer, "chat.completion.chunk", id, created, model, systemFingerprint);

    /// <summary>The same for a whole answer, <c>chat.completion</c>.</summary>
    public static void WriteCompletionHeader(Utf8JsonWriter writer, string? id, long created, string? model, string? systemFingerprint = null) =>
        WriteHeader(writer, "chat.completion", id, created, model, systemFingerprint);

    private static void WriteHeader(Utf8JsonWriter writer, string objectType, string? id, long created, string? model, string? systemFingerprint)
    {
        writer.WriteString("id", id);
        writer.WriteString("object", objectType);
        writer.WriteNumber("created", created);
        writer.WriteString("model", model);
        if (systemFingerprint is not null)
        {
            writer.WriteString("system_fingerprint", systemFingerprint);
        }
    }

    /// <summary>
    /// <c>"choices":[{"index","delta":{…},"logprobs","finish_reason"}]</c>: one choice's piece, its delta
    /// written by <paramref name="writeDelta"/> (static lambdas and a state keep it allocation-free).
    /// </summary>
    public static void WriteChoiceDelta<TState>(
        Utf8JsonWriter writer, int index, TState state, Action<Utf8JsonWriter, TState> writeDelta, string? finishReason = null, JsonElement? logprobs = null)
    {
        writer.WriteStartArray("choices");
        writer.WriteStartObject();
        writer.WriteNumber("index", index);
        writer.WriteStartObject("delta");
        writeDelta(writer, state);
        writer.WriteEndObject();
        writer.WritePropertyName("logprobs");
        if (logprobs is { } value)
        {
            value.WriteTo(writer);
        }
        else
        {
            writer.WriteNullValue();
        }
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
    }

    /// <summary>The usage chunk's <c>"choices":[]</c> (OpenAI's last chunk when <c>stream_options.include_usage</c> is set).</summary>
    public static void WriteNoChoices(Utf8JsonWriter writer)
    {
        writer.WriteStartArray("choices");
        writer.WriteEndArray();
    }

    /// <summary><c>"usage":{"prompt_tokens","completion_tokens","total_tokens","prompt_tokens_details":{"cached_tokens"}}</c>.</summary>
    /// <param name="cacheWriteTokens">
    /// Prompt tokens written to the provider's prompt cache (Anthropic's <c>cache_creation_input_tokens</c>, which
    /// it prices apart): written under that name beside OpenAI's fields when there are any, as other gateways do.
    /// </param>
    public static void WriteUsage(Utf8JsonWriter writer, long promptTokens, long cachedTokens, long completionTokens, long cacheWriteTokens = 0)
    {
        writer.WriteStartObject("usage");
        writer.WriteNumber("prompt_tokens", promptTokens);
        writer.WriteNumber("completion_tokens", completionTokens);
        writer.WriteNumber("total_tokens", promptTokens + completionTokens);
        writer.WriteStartObject("prompt_tokens_details");
        writer.WriteNumber("cached_tokens", cachedTokens);
        writer.WriteEndObject();
        if (cacheWriteTokens > 0)
        {
            writer.WriteNumber(CacheWriteTokensName, cacheWriteTokens);
        }
        writer.WriteEndObject();
    }

    /// <summary>The usage field that carries prompt tokens written to the provider's cache.</summary>
    public const string CacheWriteTokensName = "cache_creation_input_tokens";

    /// <summary>
    /// One tool call object. In a stream it has an <paramref name="index"/>, and its later pieces carry
    /// neither <paramref name="id"/> nor <paramref name="name"/>, only more <paramref name="arguments"/>.
    /// </summary>
    public static void WriteToolCall(Utf8JsonWriter writer, int? index, string? id, string? name, string arguments)
    {
        writer.WriteStartObject();
        if (index is { } i)
        {
            writer.WriteNumber("index", i);
        }
        if (id is not null)
        {
            writer.WriteString("id", id);
            writer.WriteString("type", "function");
        }
        writer.WriteStartObject("function");
        if (name is not null)
        {
            writer.WriteString("name", name);
        }
        writer.WriteString("arguments", arguments);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
