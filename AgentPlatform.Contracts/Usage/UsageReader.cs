using System.Text.Json;
using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Contracts.Usage;

/// <summary>The tokens of one answer, as the provider reported them.</summary>
/// <param name="InputTokens">Every prompt token, those read from and written to the provider's prompt cache included.</param>
/// <param name="CachedInputTokens">Of the prompt, the tokens read from the provider's prompt cache.</param>
/// <param name="CacheWriteInputTokens">Of the prompt, the tokens written to the provider's prompt cache (Anthropic prices them apart).</param>
public readonly record struct TokenUsage(long InputTokens, long OutputTokens, long CachedInputTokens, long CacheWriteInputTokens = 0);

/// <summary>
/// Finds the usage in an answer as it passes, without parsing the answer: a JSON completion's
/// top-level <c>usage</c>, or the one event of a stream that carries it (found by its
/// <c>"prompt_tokens"</c>, a vectorized search, so the other chunks cost almost nothing). A JSON
/// answer's usage may be OpenAI's or Anthropic's (a Messages answer: <c>input_tokens</c> apart from the
/// cache's reads and writes); a Messages stream's comes in two events (<c>AnthropicStreamUsage</c>).
/// </summary>
public static class UsageReader
{
    private static ReadOnlySpan<byte> PromptTokens => "\"prompt_tokens\""u8;

    public static TokenUsage? FromJson(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && reader.ValueTextEquals("usage"u8))
                {
                    reader.Read();
                    return reader.TokenType == JsonTokenType.StartObject ? ReadUsage(ref reader) : null;
                }
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth >= 1)
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON after all (or cut short): no usage to tell.
        }
        return null;
    }

    /// <summary>A usage object itself (<c>{"prompt_tokens":...}</c> or Anthropic's); null when it is not one.</summary>
    public static TokenUsage? FromUsageObject(ReadOnlySpan<byte> usage)
    {
        var reader = new Utf8JsonReader(usage);
        try
        {
            return reader.Read() && reader.TokenType == JsonTokenType.StartObject ? ReadUsage(ref reader) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The usage of a Responses stream: in its last event (<c>response.completed</c> or <c>response.incomplete</c>),
    /// the whole response with its usage; null when the events do not hold it.
    /// </summary>
    public static TokenUsage? FromResponseEvents(ReadOnlySpan<byte> events)
    {
        var at = events.IndexOf("\"type\":\"response.completed\""u8);
        if (at < 0)
        {
            at = events.IndexOf("\"type\":\"response.incomplete\""u8);
        }
        var start = at < 0 ? -1 : events[..at].LastIndexOf("data:"u8);
        if (start < 0)
        {
            return null;
        }
        var lineEnd = events[at..].IndexOf((byte)'\n');
        var data = events[(start + 5)..(lineEnd < 0 ? events.Length : at + lineEnd)];
        try
        {
            using var document = JsonDocument.Parse(data.ToArray());
            return document.RootElement.TryGetProperty("response", out var response) && response.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object
                ? FromUsageObject(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(usage))
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The usage carried by one of the server-sent events in <paramref name="events"/>, if any.</summary>
    public static TokenUsage? FromEvents(ReadOnlySpan<byte> events) => FromEvents(events, out _);

    /// <summary>The usage carried by one of the events, and where that event lies (its <c>data:</c> line to its blank line).</summary>
    public static TokenUsage? FromEvents(ReadOnlySpan<byte> events, out Range eventRange)
    {
        eventRange = default;
        var at = events.IndexOf(PromptTokens);
        if (at < 0)
        {
            return null;
        }
        var start = events[..at].LastIndexOf("data:"u8);
        var lineEnd = events[at..].IndexOf((byte)'\n');
        if (start < 0)
        {
            return null;
        }
        var end = lineEnd < 0 ? events.Length : at + lineEnd;
        var usage = FromJson(events[(start + 5)..end]);
        // The event runs to its blank line: past the line's \n and the empty line's \n (or \r\n).
        var eventEnd = end;
        for (var newlines = 0; eventEnd < events.Length && newlines < 2; eventEnd++)
        {
            if (events[eventEnd] == '\n')
            {
                newlines++;
            }
        }
        eventRange = start..eventEnd;
        return usage;
    }

    /// <summary>
    /// How many events of a <paramref name="door"/>'s stream carry answer text or tool-call arguments: about one
    /// token each. OpenAI's chat chunks with content or arguments; Anthropic's <c>content_block_delta</c> events
    /// (text, thinking or tool input); the Responses API's text and arguments deltas (<c>"delta":"…"</c>). Only
    /// the door's own patterns are searched: a chat stream pays for no other door's.
    /// </summary>
    public static int CountContentEvents(ReadOnlySpan<byte> events, ModelApi door = ModelApi.ChatCompletions) => door switch
    {
        ModelApi.Messages => Count(events, "\"type\":\"content_block_delta\""u8),
        ModelApi.Responses => Count(events, "\"delta\":\""u8),
        _ => Count(events, "\"content\":\""u8) - Count(events, "\"content\":\"\""u8) + Count(events, "\"arguments\":\""u8),
    };

    private static int Count(ReadOnlySpan<byte> text, ReadOnlySpan<byte> pattern)
    {
        var count = 0;
        for (var at = text.IndexOf(pattern); at >= 0; at = text.IndexOf(pattern))
        {
            count++;
            text = text[(at + pattern.Length)..];
        }
        return count;
    }

    private static TokenUsage ReadUsage(ref Utf8JsonReader reader)
    {
        long prompt = -1, input = 0, output = 0, cached = 0, cacheRead = 0, cacheWrite = 0;
        var inputHoldsCache = false;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            if (reader.ValueTextEquals("prompt_tokens"u8))
            {
                prompt = ReadNumber(ref reader);
            }
            else if (reader.ValueTextEquals("completion_tokens"u8) || reader.ValueTextEquals("output_tokens"u8))
            {
                output = ReadNumber(ref reader);
            }
            else if (reader.ValueTextEquals("input_tokens"u8))
            {
                input = ReadNumber(ref reader);
            }
            else if (reader.ValueTextEquals("cache_read_input_tokens"u8))
            {
                cacheRead = ReadNumber(ref reader);
            }
            else if (reader.ValueTextEquals("cache_creation_input_tokens"u8))
            {
                cacheWrite = ReadNumber(ref reader);
            }
            else if (reader.ValueTextEquals("prompt_tokens_details"u8) || reader.ValueTextEquals("input_tokens_details"u8))
            {
                inputHoldsCache |= reader.ValueTextEquals("input_tokens_details"u8);
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject)
                {
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                    {
                        if (reader.ValueTextEquals("cached_tokens"u8))
                        {
                            cached = ReadNumber(ref reader);
                        }
                        else
                        {
                            reader.Read();
                            reader.Skip();
                        }
                    }
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        // OpenAI's prompt tokens (and its Responses API's input tokens, beside their details) hold the cache's
        // reads and writes; Anthropic's input tokens are the rest of the prompt.
        return prompt >= 0 ? new TokenUsage(prompt, output, cached, cacheWrite)
            : inputHoldsCache ? new TokenUsage(input, output, cached, cacheWrite)
            : new TokenUsage(input + cacheRead + cacheWrite, output, cacheRead, cacheWrite);
    }

    /// <summary>The property's value when it is a whole number; 0 for null or anything else.</summary>
    private static long ReadNumber(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var number) ? number : 0;
    }
}
