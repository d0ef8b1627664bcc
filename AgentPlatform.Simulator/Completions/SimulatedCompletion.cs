namespace AgentPlatform.Simulator.Completions;

/// <summary>A tool call the simulator decided to make.</summary>
public sealed record SimulatedToolCall(string Id, string Name, string Arguments);

/// <summary>One answer, decided entirely by the request, written as JSON or as a stream.</summary>
public sealed record SimulatedCompletion(
    string Id,
    string Model,
    long Created,
    int PromptTokens,
    IReadOnlyList<string> Tokens,
    SimulatedToolCall? ToolCall,
    string FinishReason,
    bool Stream,
    bool IncludeUsage)
{
    /// <summary>Prompt tokens the (emulated) provider read from its prompt cache: part of <see cref="PromptTokens"/>.</summary>
    public int CachedTokens { get; init; }

    /// <summary>
    /// Prompt tokens the provider wrote to its prompt cache (part of <see cref="PromptTokens"/>): said only on
    /// Anthropic's wire, and only for a request that asked for caching (<c>cache_control</c>).
    /// </summary>
    public int CacheWriteTokens { get; init; }

    /// <summary>Tokens a reasoning model thought before answering: said (and billed as output) only on the Responses wire.</summary>
    public int ReasoningTokens { get; init; }

    /// <summary>A Responses request's <c>store</c> (default true), which the Responses wire echoes as OpenAI does.</summary>
    public bool Store { get; init; } = true;

    public int CompletionTokens => ToolCall is null ? Tokens.Count : Math.Max(1, (ToolCall.Name.Length + ToolCall.Arguments.Length) / 4);

    public string Content => string.Concat(Tokens);
}
