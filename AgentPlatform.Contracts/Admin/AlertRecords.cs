using System.Text.Json.Serialization;

namespace AgentPlatform.Contracts.Admin;

/// <summary>
/// One alert: a rule's condition that holds for one subject (a key's 80% budget, say). It fires once
/// when the condition begins to hold and resolves once when it stops; <see cref="Fingerprint"/> says
/// which condition it is, across evaluations and replicas.
/// </summary>
public sealed record Alert
{
    public string Fingerprint { get; init; } = "";

    public string Rule { get; init; } = "";

    public string Kind { get; init; } = "";

    /// <summary><c>firing</c> or <c>resolved</c>.</summary>
    public string Status { get; init; } = AlertStatus.Firing;

    /// <summary>One line for a person: what crossed what.</summary>
    public string Summary { get; init; } = "";

    /// <summary>What the alert is about (scope, ids, names, threshold): bounded, never a key or a secret.</summary>
    public Dictionary<string, string> Labels { get; init; } = [];

    public DateTimeOffset StartsAt { get; init; }

    public DateTimeOffset? EndsAt { get; init; }
}

public static class AlertStatus
{
    public const string Firing = "firing";
    public const string Resolved = "resolved";
}

/// <summary>An entry of the alert history: an alert fired or resolved, or a notification of it delivered or failed.</summary>
public sealed record AlertEvent
{
    public DateTimeOffset At { get; init; }

    /// <summary><c>fired</c>, <c>resolved</c>, <c>delivered</c> or <c>failed</c>.</summary>
    public string Event { get; init; } = "";

    public string Fingerprint { get; init; } = "";

    public string Rule { get; init; } = "";

    public string Summary { get; init; } = "";

    /// <summary>For a delivery: the webhook's name (never its URL) and how many tries it took.</summary>
    public string? Webhook { get; init; }

    public int? Attempts { get; init; }

    /// <summary>For a failed delivery: the last status or error.</summary>
    public string? Error { get; init; }
}

/// <summary>An alert rule, as configured and as the admin API (and the console through it) reads and writes it.</summary>
public sealed record AlertRule
{
    /// <summary>Unique; the rule's id in the admin API.</summary>
    public string Name { get; init; } = "";

    /// <summary>What it watches: see <see cref="AlertKinds"/>.</summary>
    public string Kind { get; init; } = AlertKinds.Budget;

    public bool Enabled { get; init; } = true;

    /// <summary>For <c>budget</c>: the shares of a budget (percent) whose crossing fires, each its own alert.</summary>
    public List<int> ThresholdsPercent { get; init; } = [];

    /// <summary>For <c>error_rate</c> and <c>latency_p99</c>: one alert per <c>deployment</c> (the default) or per model <c>group</c>.</summary>
    public string? Scope { get; init; }

    /// <summary>For <c>error_rate</c>: the share of attempts the deployment failed (refused or broke), in percent, at or above which it fires.</summary>
    public double? ThresholdPercent { get; init; }

    /// <summary>For <c>latency_p99</c>: the 99th percentile of time to answer, in milliseconds, at or above which it fires.</summary>
    public double? ThresholdMs { get; init; }

    /// <summary>
    /// For <c>error_rate</c> and <c>latency_p99</c>: how far back attempts count (default 300; counted in
    /// 10-second buckets). For <c>burn_rate</c>: how far back spend sets the rate (default 3600; hourly roll-ups).
    /// </summary>
    public int? WindowSeconds { get; init; }

    /// <summary>For <c>error_rate</c> and <c>latency_p99</c>: fewer attempts than this in the window decide nothing (default 10).</summary>
    public int? MinRequests { get; init; }

    /// <summary>
    /// How long the condition must hold before it fires: for <c>breaker_open</c> a deployment's breaker
    /// open through its probes (default 60), for <c>redis_unreachable</c> Redis away (default 30), for
    /// <c>spool_growing</c> a spool at or over its threshold (default 60).
    /// </summary>
    public int? ForSeconds { get; init; }

    /// <summary>For <c>burn_rate</c>: fires when, at the recent rate, the budget runs out within this many hours (default 24).</summary>
    public int? WithinHours { get; init; }

    /// <summary>For <c>spool_growing</c>: the usage records waiting in one replica's spool at or above which it counts (default 1000).</summary>
    public int? ThresholdRecords { get; init; }

    // Derived from the fields above with their defaults: not part of the rule's JSON.
    [JsonIgnore]
    public string EffectiveScope => Scope ?? "deployment";

    [JsonIgnore]
    public TimeSpan Window => TimeSpan.FromSeconds(WindowSeconds ?? 300);

    [JsonIgnore]
    public int EffectiveMinRequests => MinRequests ?? 10;

    [JsonIgnore]
    public TimeSpan BurnWindow => TimeSpan.FromSeconds(WindowSeconds ?? 3600);

    [JsonIgnore]
    public int EffectiveWithinHours => WithinHours ?? 24;

    [JsonIgnore]
    public int EffectiveThresholdRecords => ThresholdRecords ?? 1000;

    [JsonIgnore]
    public TimeSpan For => TimeSpan.FromSeconds(ForSeconds ?? (Kind == AlertKinds.RedisUnreachable ? 30 : 60));

    /// <summary>The problems of a rule (empty when it is valid), each naming its field.</summary>
    public IEnumerable<string> Problems()
    {
        if (string.IsNullOrWhiteSpace(Name) || Name.Length > 100 || Name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            yield return "name must be 1-100 letters, digits, '-', '_' or '.'.";
        }
        if (!AlertKinds.All.Contains(Kind))
        {
            yield return $"kind must be one of: {string.Join(", ", AlertKinds.All)}.";
        }
        if (Kind == AlertKinds.Budget && (ThresholdsPercent is null or [] || ThresholdsPercent.Any(t => t is < 1 or > 1000)))
        {
            yield return "thresholdsPercent must list one or more percentages between 1 and 1000.";
        }
        if (Kind is AlertKinds.ErrorRate or AlertKinds.LatencyP99)
        {
            if (Scope is not (null or "deployment" or "group"))
            {
                yield return "scope must be deployment or group.";
            }
            if (WindowSeconds is < 10 or > 7200)
            {
                yield return "windowSeconds must be between 10 and 7200.";
            }
            if (MinRequests is < 1)
            {
                yield return "minRequests must be at least 1.";
            }
        }
        if (Kind == AlertKinds.ErrorRate && ThresholdPercent is not (> 0 and <= 100))
        {
            yield return "thresholdPercent must be above 0 and at most 100.";
        }
        if (Kind == AlertKinds.LatencyP99 && ThresholdMs is not > 0)
        {
            yield return "thresholdMs must be above 0.";
        }
        if (Kind is AlertKinds.BreakerOpen or AlertKinds.RedisUnreachable or AlertKinds.SpoolGrowing && ForSeconds is < 0 or > 86_400)
        {
            yield return "forSeconds must be between 0 and 86400.";
        }
        if (Kind == AlertKinds.BurnRate)
        {
            if (WithinHours is < 1 or > 8760)
            {
                yield return "withinHours must be between 1 and 8760.";
            }
            if (WindowSeconds is < 300 or > 86_400)
            {
                yield return "windowSeconds must be between 300 and 86400.";
            }
        }
        if (Kind == AlertKinds.SpoolGrowing && ThresholdRecords is < 1)
        {
            yield return "thresholdRecords must be at least 1.";
        }
    }
}

public static class AlertKinds
{
    /// <summary>A key's or tenant's spend this period crossed a share of its budget.</summary>
    public const string Budget = "budget";

    /// <summary>A deployment's (or model group's) share of failed attempts over a window reached a threshold.</summary>
    public const string ErrorRate = "error_rate";

    /// <summary>A deployment's (or model group's) 99th percentile time to answer over a window reached a bound.</summary>
    public const string LatencyP99 = "latency_p99";

    /// <summary>A deployment's circuit breaker has been open (through its half-open probes) longer than a bound.</summary>
    public const string BreakerOpen = "breaker_open";

    /// <summary>At the recent spend rate, a key's or tenant's budget runs out within a bound (and before its period resets it).</summary>
    public const string BurnRate = "burn_rate";

    /// <summary>Redis has been unreachable longer than a bound: decided by the replica that was evaluating when it went.</summary>
    public const string RedisUnreachable = "redis_unreachable";

    /// <summary>A replica's usage spool has held at least a number of records longer than a bound.</summary>
    public const string SpoolGrowing = "spool_growing";

    public static readonly string[] All = [Budget, BurnRate, ErrorRate, LatencyP99, BreakerOpen, RedisUnreachable, SpoolGrowing];
}
