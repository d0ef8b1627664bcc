using System.Text.Json.Nodes;

namespace AgentPlatform.Api.Tenancy;

/// <summary>
/// What a tenant and a key can each carry. A request must pass both its key's and its tenant's
/// (enforced by the limiter, <c>Limits/RequestLimiter</c>).
/// </summary>
public record Limits
{
    public string Name { get; init; } = "";

    public int? Rpm { get; init; }

    public int? Tpm { get; init; }

    public int? MaxConcurrent { get; init; }

    public decimal? BudgetUsd { get; init; }

    /// <summary>One of <see cref="BudgetPeriods.All"/>.</summary>
    public string BudgetPeriod { get; init; } = BudgetPeriods.None;

    /// <summary>The model groups allowed; empty allows all.</summary>
    public List<string> Models { get; init; } = [];

    public DateTimeOffset? ExpiresAt { get; init; }

    public JsonObject Metadata { get; init; } = [];

    /// <summary>Turns the response cache on or off for the tenant's or key's requests; null follows the next level up.</summary>
    public bool? CacheEnabled { get; init; }

    /// <summary>How long answers are cached; null follows the next level up.</summary>
    public int? CacheTtlSeconds { get; init; }

    public bool AllowsModel(string model) => Models.Count == 0 || Models.Contains(model, StringComparer.Ordinal);

    public bool HasExpired(DateTimeOffset now) => ExpiresAt is { } expiry && expiry <= now;
}

public static class BudgetPeriods
{
    public const string None = "none";
    public const string Daily = "daily";
    public const string Weekly = "weekly";
    public const string Monthly = "monthly";

    public static readonly string[] All = [None, Daily, Weekly, Monthly];
}

/// <summary>A team or customer that owns virtual keys.</summary>
public sealed record Tenant : Limits
{
    public string Id { get; init; } = "";

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>
/// A virtual key as stored: never the key itself, only its SHA-256 (<see cref="Hash"/>, which no API
/// answer or log shows) and a hint of its first and last characters to recognise it by.
/// </summary>
public sealed record VirtualKey : Limits
{
    public string Id { get; init; } = "";

    public string TenantId { get; init; } = "";

    public string Hash { get; init; } = "";

    public string KeyHint { get; init; } = "";

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }

    public DateTimeOffset? RevokedAt { get; init; }
}
