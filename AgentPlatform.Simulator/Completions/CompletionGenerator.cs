using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Simulator.Completions;

/// <summary>
/// Turns a chat request into a deterministic answer: the same request body always gives the same
/// words, ids and usage (seeded from a hash of the body), so tests and benchmarks can rely on it.
/// <para>
/// Tool rule: when the request offers tools (and <c>tool_choice</c> is not <c>"none"</c>) and the last
/// message is the user's, the simulator calls the tool whose name the message mentions, else the first
/// tool if the message contains the word "tool"; a forced <c>tool_choice</c> always calls that
/// function. Arguments fill every declared parameter: strings <c>"sim"</c>, numbers <c>1</c>,
/// booleans <c>true</c>, arrays <c>[]</c>, objects <c>{}</c>.
/// </para>
/// </summary>
public sealed class CompletionGenerator(IOptionsMonitor<SimulatorOptions> options, TimeProvider timeProvider)
{
    private const int PromptCacheMinTokens = 1024;
    private const int PromptCacheIncrement = 128;
    private const int PromptCacheCapacity = 10_000;

    /// <summary>Hashes of the prompts seen, for <see cref="SimulatorOptions.PromptCaching"/>; forgotten all at once when full.</summary>
    private readonly ConcurrentDictionary<Int128, bool> _seenPrompts = new();

    private static readonly string[] Vocabulary =
    [
        "the", "platform", "routes", "every", "request", "to", "a", "healthy", "deployment", "and",
        "records", "tokens", "cost", "latency", "for", "each", "call", "agents", "run", "on",
        "same", "pool", "with", "retries", "breakers", "timeouts", "fallbacks", "budgets", "limits", "cache",
        "answers", "quickly", "simulated", "model", "says", "hello", "world", "gateway", "stream", "chunk",
        "provider", "reliable", "fast", "simple", "metrics", "traces", "logs", "keys", "tenants", "usage",
    ];

    /// <summary>Returns the answer, or an error message when the body is not a chat request.</summary>
    public (SimulatedCompletion? Completion, string? Error) Generate(ReadOnlySpan<byte> body)
    {
        JsonObject request;
        try
        {
            request = JsonNode.Parse(body) as JsonObject ?? throw new JsonException();
        }
        catch (JsonException)
        {
            return (null, "The request body must be a JSON object.");
        }
        if (request["messages"] is not JsonArray messages)
        {
            return (null, "Missing required parameter: 'messages'.");
        }
        foreach (var name in (ReadOnlySpan<string>)["max_completion_tokens", "max_tokens"])
        {
            if (request[name] is JsonValue value && value.TryGetValue<int>(out var given) && given < 1)
            {
                // OpenAI's own wording for this mistake.
                return (null, $"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {given} instead.");
            }
        }

        var random = new Random(Seed(body));
        var model = request["model"]?.GetValueKind() == JsonValueKind.String ? request["model"]!.GetValue<string>() : "sim";
        var stream = request["stream"]?.GetValueKind() == JsonValueKind.True;
        var includeUsage = request["stream_options"]?["include_usage"]?.GetValueKind() == JsonValueKind.True;
        var id = "chatcmpl-sim" + RandomHex(random, 20);
        var created = timeProvider.GetUtcNow().ToUnixTimeSeconds();
        var promptTokens = CountPromptTokens(messages);
        var limit = MaxTokens(request);
        if (options.CurrentValue.ContextWindow is { } window && promptTokens + (limit ?? 0) > window)
        {
            // OpenAI's wording, which gateways recognise.
            return (null, $"This model's maximum context length is {window} tokens. However, you requested {promptTokens + (limit ?? 0)} tokens " +
                $"({promptTokens} in the messages, {limit ?? 0} in the completion). Please reduce the length of the messages or completion.");
        }

        var (cachedTokens, cacheWriteTokens) = CachedTokens(messages, promptTokens);
        if (PickToolCall(request, messages, random) is { } toolCall)
        {
            return (new SimulatedCompletion(id, model, created, promptTokens, [], toolCall, "tool_calls", stream, includeUsage) { CachedTokens = cachedTokens, CacheWriteTokens = cacheWriteTokens }, null);
        }

        var wanted = options.CurrentValue.OutputTokens;
        var count = limit is { } max && max < wanted ? max : wanted;
        var tokens = new string[count];
        for (var i = 0; i < count; i++)
        {
            var word = Vocabulary[random.Next(Vocabulary.Length)];
            tokens[i] = i == 0 ? char.ToUpperInvariant(word[0]) + word[1..] : " " + word;
        }
        var finishReason = count < wanted ? "length" : "stop";
        return (new SimulatedCompletion(id, model, created, promptTokens, tokens, null, finishReason, stream, includeUsage) { CachedTokens = cachedTokens, CacheWriteTokens = cacheWriteTokens }, null);
    }

    /// <summary>
    /// The prompt tokens a provider with prompt caching would have read from its cache — none the first
    /// time — and written to it (the first time).
    /// </summary>
    private (int Read, int Written) CachedTokens(JsonArray messages, int promptTokens)
    {
        if (!options.CurrentValue.PromptCaching || promptTokens < PromptCacheMinTokens)
        {
            return (0, 0);
        }
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(messages), hash);
        var key = BinaryPrimitives.ReadInt128LittleEndian(hash);
        var cacheable = promptTokens - promptTokens % PromptCacheIncrement;
        if (_seenPrompts.ContainsKey(key))
        {
            return (cacheable, 0);
        }
        if (_seenPrompts.Count >= PromptCacheCapacity)
        {
            _seenPrompts.Clear();
        }
        _seenPrompts.TryAdd(key, true);
        return (0, cacheable);
    }

    private static int Seed(ReadOnlySpan<byte> body)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(body, hash);
        return BinaryPrimitives.ReadInt32LittleEndian(hash);
    }

    private static string RandomHex(Random random, int length)
    {
        Span<byte> bytes = stackalloc byte[length / 2];
        random.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    private static int? MaxTokens(JsonObject request)
    {
        foreach (var name in (ReadOnlySpan<string>)["max_completion_tokens", "max_tokens"])
        {
            if (request[name] is JsonValue value && value.TryGetValue<int>(out var max) && max > 0)
            {
                return max;
            }
        }
        return null;
    }

    /// <summary>Roughly OpenAI's count: the words of every text part plus 3 per message for its framing.</summary>
    private static int CountPromptTokens(JsonArray messages)
    {
        var tokens = 3;
        foreach (var message in messages)
        {
            tokens += 3 + CountWords(Text(message?["content"]));
        }
        return tokens;
    }

    private static int CountWords(string text) =>
        text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    /// <summary>The text of a message's content: a string, or the text parts of an array.</summary>
    private static string Text(JsonNode? content) => content switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        JsonArray parts => string.Join(' ', parts
            .Where(p => p?["type"]?.GetValue<string>() == "text")
            .Select(p => p?["text"]?.GetValue<string>() ?? "")),
        _ => "",
    };

    private static SimulatedToolCall? PickToolCall(JsonObject request, JsonArray messages, Random random)
    {
        if (request["tools"] is not JsonArray { Count: > 0 } tools)
        {
            return null;
        }
        var functions = tools
            .Select(t => t?["function"])
            .Where(f => f?["name"]?.GetValueKind() == JsonValueKind.String)
            .ToList();
        if (functions.Count == 0)
        {
            return null;
        }

        JsonNode? chosen = null;
        var toolChoice = request["tool_choice"];
        if (toolChoice?.GetValueKind() == JsonValueKind.String && toolChoice.GetValue<string>() == "none")
        {
            return null;
        }
        // tool_choice is a string ("auto", "none", "required") or an object naming one function.
        if (toolChoice is JsonObject && toolChoice["function"]?["name"]?.GetValue<string>() is { } forced)
        {
            chosen = functions.FirstOrDefault(f => f!["name"]!.GetValue<string>() == forced);
        }
        else if (messages.LastOrDefault() is { } last && last["role"]?.GetValue<string>() == "user")
        {
            var text = Text(last["content"]);
            chosen = functions.FirstOrDefault(f => text.Contains(f!["name"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase))
                ?? (text.Contains("tool", StringComparison.OrdinalIgnoreCase) ? functions[0] : null);
        }
        else if (messages.LastOrDefault(m => m?["role"]?.GetValue<string>() == "user") is { } asked
            && Text(asked["content"]) is var wish && wish.Contains("in a loop", StringComparison.OrdinalIgnoreCase))
        {
            // A model stuck in a loop: after each result it calls the tool the user named again, the same way.
            chosen = functions.FirstOrDefault(f => wish.Contains(f!["name"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase));
        }
        if (chosen is null && toolChoice?.GetValueKind() == JsonValueKind.String && toolChoice.GetValue<string>() == "required")
        {
            chosen = functions[0];
        }
        if (chosen is null)
        {
            return null;
        }

        return new SimulatedToolCall("call_" + RandomHex(random, 24), chosen["name"]!.GetValue<string>(), Arguments(chosen["parameters"]));
    }

    private static string Arguments(JsonNode? parameters)
    {
        var arguments = new JsonObject();
        if (parameters?["properties"] is JsonObject properties)
        {
            foreach (var (name, schema) in properties)
            {
                arguments[name] = (schema?["type"]?.GetValueKind() == JsonValueKind.String ? schema["type"]!.GetValue<string>() : null) switch
                {
                    "string" => "sim",
                    "integer" or "number" => 1,
                    "boolean" => true,
                    "array" => new JsonArray(),
                    "object" => new JsonObject(),
                    _ => null,
                };
            }
        }
        return arguments.ToJsonString();
    }
}
