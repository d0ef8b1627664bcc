using System.Text.Json.Serialization;

namespace AgentPlatform.Contracts.Admin;

/// <summary>The sums of a point of the timeline, or of its whole window; percentiles are null where nothing was timed.</summary>
public sealed record TimelineSums(
    long Requests, long Errors, long PromptTokens, long CachedTokens, long CompletionTokens, decimal CostUsd,
    long CacheHits, long CacheMisses, double? LatencyP50Ms, double? LatencyP99Ms, double? OverheadP50Ms, double? OverheadP99Ms)
{
    public static readonly TimelineSums Empty = new(0, 0, 0, 0, 0, 0, 0, 0, null, null, null, null);

    /// <summary>Share of requests that failed or were refused; null without requests.</summary>
    [JsonIgnore]
    public double? ErrorRate => Requests == 0 ? null : (double)Errors / Requests;

    /// <summary>Share of cache lookups answered from the cache; null when the cache was not asked.</summary>
    [JsonIgnore]
    public double? CacheHitRate => CacheHits + CacheMisses == 0 ? null : (double)CacheHits / (CacheHits + CacheMisses);
}

public sealed record TimelinePoint(DateTimeOffset Start, TimelineSums Sums);

/// <summary>A tenant, key or model group and what it spent in the window.</summary>
public sealed record Spender(string Id, decimal CostUsd, long Requests);

public sealed record TopSpenders(IReadOnlyList<Spender> Tenants, IReadOnlyList<Spender> Keys, IReadOnlyList<Spender> Models);

/// <summary>The platform over the last hour, day or week: <c>GET /admin/v1/usage/timeline</c>.</summary>
public sealed record TimelineView(string Window, int StepSeconds, DateTimeOffset From, DateTimeOffset SpendSince,
    TimelineSums Totals, IReadOnlyList<TimelinePoint> Points, TopSpenders Top);

/// <summary>One row of the usage roll-ups: a period (hour or day), for one tenant, key and model group.</summary>
public sealed record UsageSummaryRow(
    DateTimeOffset Period, string? TenantId, string? KeyId, string? Model, long Requests, long Errors,
    long PromptTokens, long CachedTokens, long CompletionTokens, decimal CostUsd, long CacheHits, long SavedTokens, decimal SavedCostUsd);

/// <summary><c>GET /admin/v1/usage/summary</c>: the roll-ups in OpenAI's list shape, with their granularity.</summary>
public sealed record UsageSummary(string Granularity, IReadOnlyList<UsageSummaryRow> Data)
{
    public string Object => "list";
}
