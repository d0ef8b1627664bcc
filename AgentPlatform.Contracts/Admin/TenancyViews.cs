using System.Text.Json.Nodes;

namespace AgentPlatform.Contracts.Admin;

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
