namespace AgentPlatform.Simulator.Faults;

/// <summary>One fault: its kind, the share of requests it hits, and for stalls (and a slow <c>500</c>) an optional length.</summary>
public sealed class FaultSpec
{
    public string Kind { get; set; } = "";

    public double Rate { get; set; }

    public int? DelayMs { get; set; }

    /// <summary>For <c>429</c>: the <c>Retry-After</c> in seconds (default 1); 0 sends none.</summary>
    public int? RetryAfterSeconds { get; set; }

    /// <summary>Injects into at most this many requests, then is gone (e.g. 1: the next request only); null: no end.</summary>
    public int? Count { get; set; }

    /// <summary>
    /// Injects only into requests whose body holds this text, as a provider fails on some content and
    /// not on the rest; null: any request.
    /// </summary>
    public string? BodyContains { get; set; }

    /// <summary>Whether the fault may hit a request with this body.</summary>
    public bool Matches(ReadOnlySpan<byte> body) =>
        BodyContains is null || body.IndexOf(_bodyContainsBytes ??= System.Text.Encoding.UTF8.GetBytes(BodyContains)) >= 0;

    /// <summary><see cref="BodyContains"/> as UTF-8, made at the first request rather than at every one.</summary>
    private byte[]? _bodyContainsBytes;

    /// <summary>The problem with this spec, or null when it is valid.</summary>
    public string? Validate()
    {
        if (!FaultKinds.All.Contains(Kind))
        {
            return $"Kind '{Kind}' is not one of {string.Join(", ", FaultKinds.All)}.";
        }
        if (Rate is < 0 or > 1 || double.IsNaN(Rate))
        {
            return $"Rate {Rate} must be between 0.0 and 1.0.";
        }
        if (DelayMs is < 0)
        {
            return "DelayMs must not be negative.";
        }
        if (Count is < 1)
        {
            return "Count must be at least 1 (or absent for no end).";
        }
        if (BodyContains is "")
        {
            return "BodyContains must not be empty (or absent for any request).";
        }
        if (RetryAfterSeconds is < 0)
        {
            return "RetryAfterSeconds must not be negative.";
        }
        return null;
    }
}

public static class FaultKinds
{
    /// <summary>Answers 500 with an OpenAI error.</summary>
    public const string ServerError = "500";

    /// <summary>Answers 429 with <c>Retry-After: 1</c> (or the fault's <c>RetryAfterSeconds</c>).</summary>
    public const string RateLimited = "429";

    /// <summary>Never answers; the request hangs until the client gives up.</summary>
    public const string Timeout = "timeout";

    /// <summary>Drops the connection without an answer.</summary>
    public const string Reset = "reset";

    /// <summary>Sends the headers, then stalls before the first chunk (or the JSON body).</summary>
    public const string StallFirst = "stall-first";

    /// <summary>Streams half the answer, then stalls.</summary>
    public const string StallMid = "stall-mid";

    /// <summary>Streams half the answer, then drops the connection: a stream cut short.</summary>
    public const string ResetMid = "reset-mid";

    public static readonly string[] All = [ServerError, RateLimited, Timeout, Reset, StallFirst, StallMid, ResetMid];
}
