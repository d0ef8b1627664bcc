using System.Runtime.CompilerServices;
using AgentPlatform.Api.Tenancy;
using StackExchange.Redis;

namespace AgentPlatform.Api.Limits;

/// <summary>
/// The Redis keys of a virtual key's and its tenant's limits in the current budget periods, in the
/// order the limits' scripts take them: made once per key, tenant and period rather than per request
/// (eight strings and their period's date formatted on every request were a third of what a cache hit
/// allocated). Shared by the requests that use them, so never changed.
/// </summary>
public sealed class LimitKeys
{
    private readonly Tenant _tenant;
    private readonly DateTimeOffset _validFrom, _validUntil;

    private LimitKeys(VirtualKey key, Tenant tenant, DateTimeOffset now)
    {
        _tenant = tenant;
        var keyPeriod = BudgetPeriod.Current(key.BudgetPeriod, now);
        var tenantPeriod = BudgetPeriod.Current(tenant.BudgetPeriod, now);
        KeyPeriodEnd = keyPeriod.End;
        TenantPeriodEnd = tenantPeriod.End;
        _validFrom = keyPeriod.Start > tenantPeriod.Start ? keyPeriod.Start : tenantPeriod.Start;
        _validUntil = Earliest(keyPeriod.End, tenantPeriod.End);
        // All in the tenant's hash slot: the limiter's scripts take the key's and the tenant's together.
        var slot = TenantSlot.Prefix(tenant.Id);
        Keys =
        [
            $"{slot}limits:key:{key.Id}:requests", $"{slot}limits:key:{key.Id}:tokens",
            $"{slot}limits:key:{key.Id}:leases", keyPeriod.SpendKey(key),
            $"{slot}limits:tenant:{tenant.Id}:requests", $"{slot}limits:tenant:{tenant.Id}:tokens",
            $"{slot}limits:tenant:{tenant.Id}:leases", tenantPeriod.SpendKey(tenant),
        ];
        Leases = [Keys[2], Keys[6]];
    }

    /// <summary>Scope s (0 the key, 1 its tenant): <c>[s*4]</c> the last minute's requests, <c>[s*4+1]</c> their tokens, <c>[s*4+2]</c> the concurrency leases, <c>[s*4+3]</c> the period's spend.</summary>
    public RedisKey[] Keys { get; }

    /// <summary>The key's and the tenant's concurrency leases.</summary>
    public RedisKey[] Leases { get; }

    /// <summary>When the key's budget period ends (null: never).</summary>
    public DateTimeOffset? KeyPeriodEnd { get; }

    /// <summary>When the tenant's budget period ends (null: never).</summary>
    public DateTimeOffset? TenantPeriodEnd { get; }

    /// <summary>
    /// Per key object (a changed key is a new object, and an entry goes with its key when the
    /// authenticator lets the key go): the keys, remade when the tenant changes or a period ends.
    /// </summary>
    private static readonly ConditionalWeakTable<VirtualKey, LimitKeys> Made = new();

    internal static LimitKeys Of(VirtualKey key, Tenant tenant, DateTimeOffset now)
    {
        if (Made.TryGetValue(key, out var made) && ReferenceEquals(made._tenant, tenant) && made._validFrom <= now && now < made._validUntil)
        {
            return made;
        }
        made = new LimitKeys(key, tenant, now);
        Made.AddOrUpdate(key, made);
        return made;
    }

    private static DateTimeOffset Earliest(DateTimeOffset? a, DateTimeOffset? b) =>
        a is { } x && b is { } y ? (x < y ? x : y) : a ?? b ?? DateTimeOffset.MaxValue;
}
