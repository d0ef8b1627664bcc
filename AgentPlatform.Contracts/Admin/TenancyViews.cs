using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace AgentPlatform.Contracts.Admin;

/// <summary>A tenant as the admin API shows it: its limits, budget and cache settings, which its keys' requests must pass too.</summary>
public sealed record TenantView(
    string Id, string Name,
    int? Rpm, int? Tpm, int? MaxConcurrent, decimal? BudgetUsd, string BudgetPeriod, IReadOnlyList<string> Models,
    DateTimeOffset? ExpiresAt, JsonObject? Metadata, bool? CacheEnabled, int? CacheTtlSeconds,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>A virtual key as the admin API shows it: never its hash; the key itself (<see cref="Key"/>) only in the answer that created it.</summary>
public sealed record KeyView(
    string Id, string? Key, string KeyHint, string TenantId, string Name,
    int? Rpm, int? Tpm, int? MaxConcurrent, decimal? BudgetUsd, string BudgetPeriod, IReadOnlyList<string> Models,
    DateTimeOffset? ExpiresAt, JsonObject? Metadata, bool? CacheEnabled, int? CacheTtlSeconds,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? RevokedAt)
{
    public string Object => "key";
}

/// <summary>
/// What a tenant or key has spent in its current budget period: from the counter its budget is enforced
/// on (<c>source: budget</c>, reservations of requests in flight included), or for an owner without a
/// budget, the ledger's charges this calendar month (<c>source: ledger</c>).
/// </summary>
public sealed record SpendView(
    string Scope, string Id, decimal? BudgetUsd, string BudgetPeriod, DateTimeOffset? PeriodStart, DateTimeOffset? PeriodEnd, decimal SpentUsd, string Source);

/// <summary>A tenant's or key's spend set back to zero for its current period.</summary>
public sealed record ResetSpend(string Id)
{
    public bool SpendReset => true;
}

/// <summary>A tenant the admin API deleted (its keys revoked with it).</summary>
public sealed record TenantDeletion(string Id)
{
    public bool Deleted => true;
}

/// <summary>
/// The body of <c>POST</c> and <c>PATCH</c> on <c>/admin/v1/tenants</c> and <c>/admin/v1/keys</c>: each
/// field given replaces the current value, <c>null</c> clears it (a limit, the budget, the models allowed,
/// the expiry, the metadata, a cache setting), and a field not given is left as it is.
/// </summary>
public sealed record LimitsChange
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Patch<string> Name { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Patch<int> Rpm { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Patch<int> Tpm { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Patch<int> MaxConcurrent { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Patch<decimal> BudgetUsd { get; init; }

    /// <summary>none, daily, weekly or monthly.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Patch<string> BudgetPeriod { get; init; }

    /// <summary>The model groups allowed; empty or null allows all.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Patch<List<string>> Models { get; init; }

    /// <summary>An ISO 8601 date and time (UTC when it names no offset).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Patch<string> ExpiresAt { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Patch<JsonObject> Metadata { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Patch<bool> CacheEnabled { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Patch<int> CacheTtlSeconds { get; init; }

    /// <summary>The tenant a new key belongs to (creating a key only).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public Patch<string> TenantId { get; init; }

    /// <summary>Fields the body has that are none of these, for the 400 to name.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Unknown { get; init; }
}
