namespace AgentPlatform.Router.Forwarding;

internal enum AttemptStatus
{
    /// <summary>The answer reached the client whole.</summary>
    Completed,

    /// <summary>The answer began but broke off; it cannot be sent again.</summary>
    BrokeOff,

    /// <summary>The Router refused the request itself (the provider cannot express it); the client has its 400.</summary>
    Rejected,

    Failed,
    TimedOut,
    Throttled,

    /// <summary>No deployment could be tried: all tried, throttled or with open breakers.</summary>
    NoneAvailable,

    /// <summary>The provider said the prompt is over its context length; the context-window fallbacks may take it.</summary>
    ContextTooLong,
}

/// <param name="UpstreamStatus">The deployment's status code when it answered with a retryable error (5xx, 429, 408); else 0.</param>
internal readonly record struct AttemptResult(AttemptStatus Status, string? Failure, int UpstreamStatus = 0)
{
    public static readonly AttemptResult Completed = new(AttemptStatus.Completed, null);
    public static readonly AttemptResult NoneAvailable = new(AttemptStatus.NoneAvailable, null);
    public static readonly AttemptResult Rejected = new(AttemptStatus.Rejected, null);

    public static AttemptResult BrokeOff(string failure) => new(AttemptStatus.BrokeOff, failure);

    public static AttemptResult Failed(string failure, int upstreamStatus = 0) => new(AttemptStatus.Failed, failure, upstreamStatus);

    public static AttemptResult TimedOut(string failure) => new(AttemptStatus.TimedOut, failure);

    public static AttemptResult Throttled(string failure, int upstreamStatus = 0) => new(AttemptStatus.Throttled, failure, upstreamStatus);

    public static AttemptResult ContextTooLong(string failure) => new(AttemptStatus.ContextTooLong, failure);

    /// <summary>Whether the client has its answer (whole or cut short): nothing more may be sent.</summary>
    public bool HasAnswered => Status is AttemptStatus.Completed or AttemptStatus.BrokeOff or AttemptStatus.Rejected;

    /// <summary>A 5xx answer: the deployment's failure, or the request's own if every deployment gives the same.</summary>
    public bool IsServerError => Status == AttemptStatus.Failed && UpstreamStatus >= 500;

    /// <summary>Whether another attempt on the same group may help.</summary>
    public bool IsRetryable => !HasAnswered && Status != AttemptStatus.ContextTooLong;
}
