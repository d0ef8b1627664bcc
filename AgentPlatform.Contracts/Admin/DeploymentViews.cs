using System.Text.Json.Serialization;

namespace AgentPlatform.Contracts.Admin;

/// <summary>
/// A deployment and its live state, as the Router replica that answered sees it (<c>GET
/// /admin/v1/deployments</c>, and the answer to a drain): breaker states agree across replicas, requests in
/// flight, latency and error rate are that replica's. Written by the Router, passed through by the Api,
/// read by the console. Never a provider key.
/// </summary>
public sealed record DeploymentView(
    string ModelGroup, string Strategy, string Name, string Provider, string Model, int Priority, double Weight, bool Available,
    DrainView? Drained, BreakerView Breaker, DateTimeOffset? CoolingDownUntil, long InFlight, double LatencyEwmaMs,
    long AttemptsLastMinute, double ErrorRateLastMinute, LastErrorView? LastError, CapacityView Capacity, PricesView Prices)
{
    /// <summary>One word for the state an operator acts on, worst first: drained, open, half-open, cooling down, or up.</summary>
    [JsonIgnore]
    public string State => Drained is not null ? "drained"
        : Breaker.State == "open" ? "breaker open"
        : Breaker.State == "half_open" ? "probing"
        : CoolingDownUntil is not null ? "cooling down"
        : "up";
}

/// <summary>Why and since when a deployment is out of rotation.</summary>
public sealed record DrainView(DateTimeOffset At, string? Reason);

/// <summary>The deployment's breaker: <c>closed</c>, <c>open</c> (until when) or <c>half_open</c>, and how often it has opened.</summary>
public sealed record BreakerView(string State, DateTimeOffset? OpenUntil, int Breaks);

public sealed record LastErrorView(string Message, DateTimeOffset At);

/// <summary>The deployment's own rate limits and how much of each is in use now (null: no such limit).</summary>
public sealed record CapacityView(int? Rpm, double? RpmInUse, int? Tpm, double? TpmInUse);

/// <summary>USD per million tokens.</summary>
public sealed record PricesView(double InputPerMillion, double CachedInputPerMillion, double OutputPerMillion, double? CacheWriteInputPerMillion = null);

/// <summary>The optional body of a drain: why, for whoever looks at the deployments next.</summary>
public sealed record DrainRequest(string? Reason);
