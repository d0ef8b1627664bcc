namespace AgentPlatform.Router.Pool;

/// <summary>
/// A request's estimated tokens as a deployment's limits see them: its context window holds the prompt
/// and one answer; its tokens per minute pay for every answer the request may write (<c>n</c> of them).
/// Zero: not estimated.
/// </summary>
public readonly record struct RequestSize(int Context, int PerMinute)
{
    public static RequestSize Of(int promptTokens, int maxOutputTokens, int choices) =>
        new(promptTokens + maxOutputTokens, promptTokens + maxOutputTokens * Math.Max(1, choices));
}
