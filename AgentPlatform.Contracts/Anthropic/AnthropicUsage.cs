using System.Text.Json;
using AgentPlatform.Contracts.Usage;

namespace AgentPlatform.Contracts.Anthropic;

/// <summary>
/// Anthropic's usage: input tokens are split into uncached, written to the cache and read from it;
/// OpenAI's prompt tokens are all three, with the cache reads also given as cached tokens.
/// </summary>
public readonly record struct AnthropicUsage(long InputTokens, long CacheCreationTokens, long CacheReadTokens, long OutputTokens)
{
    public long PromptTokens => InputTokens + CacheCreationTokens + CacheReadTokens;

    /// <summary>The usage as the platform counts it (every prompt token; of them, read from and written to the cache).</summary>
    public TokenUsage Tokens => new(PromptTokens, OutputTokens, CacheReadTokens, CacheCreationTokens);

    public static AnthropicUsage From(JsonElement usage) => default(AnthropicUsage).Merge(usage);

    /// <summary>Later figures (a stream's message_delta) replace earlier ones where given.</summary>
    public AnthropicUsage Merge(JsonElement usage) => new(
        Later(usage, "input_tokens", InputTokens), Later(usage, "cache_creation_input_tokens", CacheCreationTokens),
        Later(usage, "cache_read_input_tokens", CacheReadTokens), Later(usage, "output_tokens", OutputTokens));

    private static long Later(JsonElement usage, string name, long current) =>
        usage.ValueKind == JsonValueKind.Object && usage.TryGetProperty(name, out var value) && value.TryGetInt64(out var number) ? number : current;
}

/// <summary>
/// Reads the usage of a Messages stream as it passes, without parsing the other events: the input from
/// <c>message_start</c>, the output (and any later input figures) from <c>message_delta</c>, the two
/// events that hold <c>"usage"</c>.
/// </summary>
public sealed class AnthropicStreamUsage
{
    private AnthropicUsage _usage;

    /// <summary>The stream's usage once its <c>message_delta</c> has come; null before.</summary>
    public TokenUsage? Final { get; private set; }

    /// <summary>Takes in whole events.</summary>
    public void Read(ReadOnlySpan<byte> events)
    {
        for (var at = events.IndexOf("\"usage\""u8); at >= 0; at = events.IndexOf("\"usage\""u8))
        {
            var start = events[..at].LastIndexOf("data:"u8);
            var lineEnd = events[at..].IndexOf((byte)'\n');
            var end = lineEnd < 0 ? events.Length : at + lineEnd;
            if (start >= 0)
            {
                Take(events[(start + 5)..end]);
            }
            events = events[end..];
        }
    }

    private void Take(ReadOnlySpan<byte> data)
    {
        try
        {
            var reader = new Utf8JsonReader(data);
            using var document = JsonDocument.ParseValue(ref reader);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type))
            {
                return;
            }
            if (type.ValueEquals("message_start"u8) && root.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object
                && message.TryGetProperty("usage", out var startUsage))
            {
                _usage = AnthropicUsage.From(startUsage);
            }
            else if (type.ValueEquals("message_delta"u8) && root.TryGetProperty("usage", out var deltaUsage))
            {
                _usage = _usage.Merge(deltaUsage);
                Final = _usage.Tokens;
            }
        }
        catch (JsonException)
        {
            // Not an event of the Messages stream: no usage in it.
        }
    }
}
