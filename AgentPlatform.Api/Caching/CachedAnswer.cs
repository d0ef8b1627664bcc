using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Api.Caching;

/// <summary>
/// A cache entry: a complete answer as its door's JSON (<c>chat.completion</c>, embeddings, Anthropic's
/// <c>message</c>, a Responses API <c>response</c>; filled by a JSON answer or assembled from a stream), with what it used and cost when it was made —
/// what each hit saves. Served as that JSON to a JSON request and replayed as server-sent events to a
/// streaming one. Immutable, so one instance serves every hit of this replica's local level.
/// </summary>
public sealed class CachedAnswer(ReadOnlyMemory<byte> body, long promptTokens, long cachedTokens, long completionTokens, decimal costUsd, string? deployment)
{
    /// <summary>The <c>chat.completion</c> JSON.</summary>
    public ReadOnlyMemory<byte> Body { get; } = body;

    public long PromptTokens { get; } = promptTokens;

    public long CachedTokens { get; } = cachedTokens;

    public long CompletionTokens { get; } = completionTokens;

    public decimal CostUsd { get; } = costUsd;

    /// <summary>The deployment that made the answer.</summary>
    public string? Deployment { get; } = deployment;

    public long TotalTokens => PromptTokens + CompletionTokens;

    // Stored as one Redis string: a header line "v1 prompt;cached;completion;cost;deployment\n", then the JSON.
    private static ReadOnlySpan<byte> Version => "v1 "u8;

    public byte[] Serialize()
    {
        var header = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"v1 {PromptTokens};{CachedTokens};{CompletionTokens};{CostUsd};{Deployment}\n"));
        var data = new byte[header.Length + Body.Length];
        header.CopyTo(data, 0);
        Body.Span.CopyTo(data.AsSpan(header.Length));
        return data;
    }

    /// <summary>The entry stored as <paramref name="data"/>; null when it is not one (another version's format).</summary>
    public static CachedAnswer? Deserialize(byte[] data)
    {
        var span = data.AsSpan();
        var end = span.IndexOf((byte)'\n');
        if (!span.StartsWith(Version) || end < 0)
        {
            return null;
        }
        ReadOnlySpan<byte> fields = span[Version.Length..end];
        Span<Range> parts = stackalloc Range[5];
        var count = 0;
        foreach (var part in fields.Split((byte)';'))
        {
            if (count == parts.Length)
            {
                break; // the deployment, last, keeps any ';' of its own
            }
            parts[count++] = part;
        }
        if (count != 5
            || !Utf8Parser.TryParse(fields[parts[0]], out long prompt, out _)
            || !Utf8Parser.TryParse(fields[parts[1]], out long cached, out _)
            || !Utf8Parser.TryParse(fields[parts[2]], out long completion, out _)
            || !Utf8Parser.TryParse(fields[parts[3]], out decimal cost, out _))
        {
            return null;
        }
        parts[4] = new Range(parts[4].Start, fields.Length);
        var deployment = fields[parts[4]].IsEmpty ? null : Encoding.UTF8.GetString(fields[parts[4]]);
        return new CachedAnswer(data.AsMemory(end + 1), prompt, cached, completion, cost, deployment);
    }

    /// <summary>
    /// Whether a JSON answer is whole and worth keeping: a completion's choices, each with a finish reason;
    /// embeddings' data, each item with its embedding; a message with its stop reason; a response completed.
    /// </summary>
    public static bool IsComplete(ReadOnlyMemory<byte> json, ModelApi api = ModelApi.ChatCompletions)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (api == ModelApi.Messages)
            {
                return MessageEvents.IsComplete(document.RootElement);
            }
            if (api == ModelApi.Responses)
            {
                return ResponseEvents.IsComplete(document.RootElement);
            }
            if (api == ModelApi.Embeddings)
            {
                return document.RootElement.TryGetProperty("data", out var data)
                    && data.ValueKind == JsonValueKind.Array
                    && data.GetArrayLength() > 0
                    && data.EnumerateArray().All(item => item.TryGetProperty("embedding", out _));
            }
            return document.RootElement.TryGetProperty("choices", out var choices)
                && choices.ValueKind == JsonValueKind.Array
                && choices.GetArrayLength() > 0
                && choices.EnumerateArray().All(c => c.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Writes the answer as a stream of <c>chat.completion.chunk</c> events, as OpenAI streams it: per
    /// choice its role, its content (refusal, tool calls), its finish reason; then the usage, when the
    /// request asked for it (<c>stream_options.include_usage</c>); then <c>[DONE]</c>.
    /// </summary>
    public void WriteEventStream(IBufferWriter<byte> output, bool includeUsage)
    {
        using var document = JsonDocument.Parse(Body);
        var root = document.RootElement;
        using var writer = new Utf8JsonWriter(output);
        foreach (var choice in root.GetProperty("choices").EnumerateArray())
        {
            var index = choice.TryGetProperty("index", out var i) ? i.GetInt32() : 0;
            var message = choice.GetProperty("message");
            var role = message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : "assistant";
            WriteChunk(output, writer, root, index, role, static (delta, role) =>
            {
                delta.WriteString("role", role);
                delta.WriteString("content", "");
            });
            if (message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String && content.GetString() is { Length: > 0 })
            {
                WriteChunk(output, writer, root, index, content, static (delta, content) => delta.WriteString("content", content.GetString()),
                    logprobs: choice.TryGetProperty("logprobs", out var logprobs) && logprobs.ValueKind == JsonValueKind.Object ? logprobs : null);
            }
            if (message.TryGetProperty("refusal", out var refusal) && refusal.ValueKind == JsonValueKind.String)
            {
                WriteChunk(output, writer, root, index, refusal, static (delta, refusal) => delta.WriteString("refusal", refusal.GetString()));
            }
            if (message.TryGetProperty("tool_calls", out var toolCalls) && toolCalls.ValueKind == JsonValueKind.Array)
            {
                var callIndex = 0;
                foreach (var call in toolCalls.EnumerateArray())
                {
                    WriteChunk(output, writer, root, index, (call, at: callIndex++), static (delta, state) =>
                    {
                        delta.WriteStartArray("tool_calls");
                        delta.WriteStartObject();
                        delta.WriteNumber("index", state.at);
                        foreach (var property in state.call.EnumerateObject())
                        {
                            property.WriteTo(delta);
                        }
                        delta.WriteEndObject();
                        delta.WriteEndArray();
                    });
                }
            }
            var finish = choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : "stop";
            WriteChunk(output, writer, root, index, 0, static (_, _) => { }, finishReason: finish);
        }
        if (includeUsage && root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            BeginChunk(output, writer, root);
            ChatCompletionJson.WriteNoChoices(writer);
            writer.WritePropertyName("usage");
            usage.WriteTo(writer);
            ChatCompletionJson.EndEvent(output, writer);
        }
        Write(output, ChatCompletionJson.Done);
    }

    private static void WriteChunk<TState>(
        IBufferWriter<byte> output, Utf8JsonWriter writer, JsonElement root, int index, TState state, Action<Utf8JsonWriter, TState> delta,
        JsonElement? logprobs = null, string? finishReason = null)
    {
        BeginChunk(output, writer, root);
        ChatCompletionJson.WriteChoiceDelta(writer, index, state, delta, finishReason, logprobs);
        ChatCompletionJson.EndEvent(output, writer);
    }

    /// <summary>Starts a <c>data: {chunk}</c> event carrying the completion's own id, created, model, fingerprint and tier.</summary>
    private static void BeginChunk(IBufferWriter<byte> output, Utf8JsonWriter writer, JsonElement root)
    {
        ChatCompletionJson.BeginEvent(output, writer);
        foreach (var name in (ReadOnlySpan<string>)["id", "created", "model", "system_fingerprint", "service_tier"])
        {
            if (root.TryGetProperty(name, out var value))
            {
                writer.WritePropertyName(name);
                value.WriteTo(writer);
            }
        }
        writer.WriteString("object", "chat.completion.chunk");
    }

    private static void Write(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }
}
