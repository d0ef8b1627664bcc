using System.Collections.Concurrent;
using System.Text.Json;
using AgentPlatform.Contracts.OpenAI;
using Microsoft.ML.Tokenizers;

namespace AgentPlatform.Tokens;

/// <summary>
/// Estimates how many tokens a chat request takes before it is sent, with the model family's own
/// encoding (<see cref="TiktokenTokenizer"/>: o200k_base for GPT-4o and later, cl100k_base for GPT-4
/// and 3.5; o200k_base for other providers' models, whose tokenizers are not public — an estimate
/// within a few percent for English text). Counted as OpenAI's cookbook does: every message's text,
/// name and tool calls, 3 tokens of framing per message and 3 to prime the reply, the tool
/// definitions' JSON, and 85 per image (its low-detail price). An Anthropic Messages request is counted
/// alike — its system prompt, every block's text, tool inputs and results, the tool definitions — with
/// 1,600 tokens per image or document (Anthropic's cost of a full-size image: documents are unknown
/// pages, settled to the provider's count).
/// </summary>
public sealed class PromptTokenEstimator
{
    private const string DefaultEncoding = "o200k_base";
    private const int TokensPerMessage = 3;
    private const int TokensPerReply = 3;
    private const int TokensPerImage = 85;
    private const int AnthropicTokensPerAttachment = 1_600;

    /// <summary>The most model names whose tokenizer is remembered; the names come from clients.</summary>
    public const int MaxRememberedModels = 256;

    /// <summary>
    /// The tokenizer of every model name the tokenizer library does not know (other providers', the
    /// pool's group names): one, built lazily — its vocabulary is tens of MB.
    /// </summary>
    private static readonly Lazy<Tokenizer> DefaultTokenizer = new(() => TiktokenTokenizer.CreateForEncoding(DefaultEncoding));

    /// <summary>
    /// The tokenizer per model name, up to <see cref="MaxRememberedModels"/> names. Every name the
    /// library does not know maps to <see cref="DefaultTokenizer"/>, so client-made names cost no more
    /// than their entry, and past the bound not even that (the vocabularies are shared by encoding
    /// inside the library).
    /// </summary>
    private readonly ConcurrentDictionary<string, Lazy<Tokenizer>> _tokenizers = new(StringComparer.Ordinal);

    /// <summary>
    /// A request's prompt tokens and the most it asks to generate, as its door reads it: a chat completion's
    /// messages and tools (and its <c>max_completion_tokens</c> or <c>max_tokens</c>), an embeddings
    /// request's input (no output), a Messages request's system, messages and tools (and its <c>max_tokens</c>).
    /// The body has passed <see cref="ChatRequestScanner"/> for that door.
    /// </summary>
    public (int PromptTokens, int MaxOutputTokens) Estimate(ReadOnlySpan<byte> body, string model, ModelApi api) => api switch
    {
        ModelApi.Embeddings => (EstimateEmbeddingsInput(body, model), 0),
        ModelApi.Messages => EstimateMessages(body, model),
        ModelApi.Responses => EstimateResponses(body, model),
        _ => Estimate(body, model),
    };

    /// <summary>The request's prompt tokens and the most it asks to generate (<c>max_completion_tokens</c> or <c>max_tokens</c>; 0 if neither).</summary>
    public (int PromptTokens, int MaxOutputTokens) Estimate(ReadOnlySpan<byte> body, string model)
    {
        var tokenizer = For(model);
        var reader = new Utf8JsonReader(body);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        var tokens = TokensPerReply;
        if (root.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            foreach (var message in messages.EnumerateArray())
            {
                tokens += TokensPerMessage + CountMessage(tokenizer, message);
            }
        }
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array)
        {
            tokens += tokenizer.CountTokens(tools.GetRawText());
        }
        return (tokens, MaxOutput(root));
    }

    /// <summary>
    /// The tokens of an embeddings request's <c>input</c>: each text's by the tokenizer, each array of token
    /// ids its length (the body has passed <c>ChatRequestScanner</c>'s embeddings checks).
    /// </summary>
    public int EstimateEmbeddingsInput(ReadOnlySpan<byte> body, string model)
    {
        var reader = new Utf8JsonReader(body);
        using var document = JsonDocument.ParseValue(ref reader);
        if (!document.RootElement.TryGetProperty("input", out var input))
        {
            return 0;
        }
        var tokenizer = For(model);
        if (input.ValueKind == JsonValueKind.String)
        {
            return tokenizer.CountTokens(input.GetString()!);
        }
        var tokens = 0;
        if (input.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in input.EnumerateArray())
            {
                tokens += item.ValueKind switch
                {
                    JsonValueKind.String => tokenizer.CountTokens(item.GetString()!),
                    JsonValueKind.Number => 1,
                    JsonValueKind.Array => item.GetArrayLength(),
                    _ => 0,
                };
            }
        }
        return tokens;
    }

    /// <summary>An Anthropic Messages request's prompt tokens and its <c>max_tokens</c>.</summary>
    public (int PromptTokens, int MaxOutputTokens) EstimateMessages(ReadOnlySpan<byte> body, string model)
    {
        var tokenizer = For(model);
        var reader = new Utf8JsonReader(body);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        var tokens = TokensPerReply;
        if (root.TryGetProperty("system", out var system))
        {
            tokens += TokensPerMessage + CountBlocks(tokenizer, system);
        }
        if (root.TryGetProperty("messages", out var messages) && messages.ValueKind == JsonValueKind.Array)
        {
            foreach (var message in messages.EnumerateArray())
            {
                tokens += TokensPerMessage + (message.ValueKind == JsonValueKind.Object && message.TryGetProperty("content", out var content) ? CountBlocks(tokenizer, content) : 0);
            }
        }
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array)
        {
            tokens += tokenizer.CountTokens(tools.GetRawText());
        }
        return (tokens, MaxOutput(root));
    }

    /// <summary>
    /// A Responses request's prompt tokens — its instructions, its input (a string, or items: messages' text,
    /// function calls' names and arguments, their outputs; 85 per image), its tools — and its <c>max_output_tokens</c>.
    /// </summary>
    public (int PromptTokens, int MaxOutputTokens) EstimateResponses(ReadOnlySpan<byte> body, string model)
    {
        var tokenizer = For(model);
        var reader = new Utf8JsonReader(body);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        var tokens = TokensPerReply;
        if (root.TryGetProperty("instructions", out var instructions) && instructions.ValueKind == JsonValueKind.String)
        {
            tokens += TokensPerMessage + tokenizer.CountTokens(instructions.GetString()!);
        }
        if (root.TryGetProperty("input", out var input) && input.ValueKind == JsonValueKind.String)
        {
            tokens += TokensPerMessage + tokenizer.CountTokens(input.GetString()!);
        }
        else if (input.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in input.EnumerateArray().Where(item => item.ValueKind == JsonValueKind.Object))
            {
                tokens += TokensPerMessage + Text(tokenizer, item, "name") + Text(tokenizer, item, "arguments")
                    + (item.TryGetProperty("content", out var content) ? CountContent(tokenizer, content) : 0)
                    + (item.TryGetProperty("output", out var output) ? CountContent(tokenizer, output) : 0);
            }
        }
        if (root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array)
        {
            tokens += tokenizer.CountTokens(tools.GetRawText());
        }
        return (tokens, root.TryGetProperty("max_output_tokens", out var max) && max.ValueKind == JsonValueKind.Number && max.TryGetInt32(out var limit) && limit > 0 ? limit : 0);
    }

    /// <summary>A Messages content (a string, or blocks): text, thinking, tool inputs and results; a fixed price per image or document.</summary>
    private static int CountBlocks(Tokenizer tokenizer, JsonElement content)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            return tokenizer.CountTokens(content.GetString()!);
        }
        var tokens = 0;
        if (content.ValueKind != JsonValueKind.Array)
        {
            return 0;
        }
        foreach (var block in content.EnumerateArray())
        {
            if (block.ValueKind != JsonValueKind.Object || !block.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                continue;
            }
            tokens += type.GetString() switch
            {
                "text" => Text(tokenizer, block, "text"),
                "thinking" => Text(tokenizer, block, "thinking"),
                "tool_use" => Text(tokenizer, block, "name") + (block.TryGetProperty("input", out var input) ? tokenizer.CountTokens(input.GetRawText()) : 0),
                "tool_result" => block.TryGetProperty("content", out var result) ? CountBlocks(tokenizer, result) : 0,
                "image" or "document" => AnthropicTokensPerAttachment,
                _ => 0,
            };
        }
        return tokens;
    }

    private static int Text(Tokenizer tokenizer, JsonElement block, string name) =>
        block.TryGetProperty(name, out var text) && text.ValueKind == JsonValueKind.String ? tokenizer.CountTokens(text.GetString()!) : 0;

    /// <summary>The tokens of a JSON completion's answer (its first choice's text and tool calls), for when the provider reports none.</summary>
    public int CountAnswerTokens(ReadOnlySpan<byte> completion, string model)
    {
        try
        {
            var reader = new Utf8JsonReader(completion);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array
                && choices.GetArrayLength() > 0 && choices[0].TryGetProperty("message", out var message)
                ? CountMessage(For(model), message)
                : 0;
        }
        catch (JsonException)
        {
            return 0;
        }
    }

    /// <summary>The tokenizer of <paramref name="model"/>'s family.</summary>
    public Tokenizer For(string model)
    {
        if (!_tokenizers.TryGetValue(model, out var tokenizer))
        {
            if (_tokenizers.Count >= MaxRememberedModels)
            {
                return DefaultTokenizer.Value; // not worth a lookup (an exception for an unknown name) per request
            }
            // Lazy: the first requests for a model, arriving together, build its tokenizer once.
            tokenizer = _tokenizers.GetOrAdd(model, static name => new Lazy<Tokenizer>(() => Create(name)));
        }
        return tokenizer.Value;
    }

    private static Tokenizer Create(string model)
    {
        try
        {
            return TiktokenTokenizer.CreateForModel(model);
        }
        catch (NotSupportedException)
        {
            return DefaultTokenizer.Value;
        }
    }

    /// <summary>How many model names have their tokenizer remembered.</summary>
    public int RememberedModels => _tokenizers.Count;

    private static int CountMessage(Tokenizer tokenizer, JsonElement message)
    {
        var tokens = 0;
        foreach (var property in message.EnumerateObject())
        {
            switch (property.Name)
            {
                case "role" or "name" or "tool_call_id" when property.Value.ValueKind == JsonValueKind.String:
                    tokens += tokenizer.CountTokens(property.Value.GetString()!);
                    break;
                case "content":
                    tokens += CountContent(tokenizer, property.Value);
                    break;
                case "tool_calls" when property.Value.ValueKind == JsonValueKind.Array:
                    foreach (var call in property.Value.EnumerateArray())
                    {
                        if (call.TryGetProperty("function", out var function))
                        {
                            tokens += tokenizer.CountTokens(function.GetRawText());
                        }
                    }
                    break;
            }
        }
        return tokens;
    }

    private static int CountContent(Tokenizer tokenizer, JsonElement content)
    {
        if (content.ValueKind == JsonValueKind.String)
        {
            return tokenizer.CountTokens(content.GetString()!);
        }
        var tokens = 0;
        if (content.ValueKind == JsonValueKind.Array)
        {
            foreach (var part in content.EnumerateArray())
            {
                if (part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String)
                {
                    tokens += tokenizer.CountTokens(text.GetString()!);
                }
                else if (part.TryGetProperty("type", out var type) && (type.ValueEquals("image_url"u8) || type.ValueEquals("input_image"u8)))
                {
                    tokens += TokensPerImage;
                }
            }
        }
        return tokens;
    }

    private static int MaxOutput(JsonElement root)
    {
        foreach (var name in (ReadOnlySpan<string>)["max_completion_tokens", "max_tokens"])
        {
            if (root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var max) && max > 0)
            {
                return max;
            }
        }
        return 0;
    }
}
