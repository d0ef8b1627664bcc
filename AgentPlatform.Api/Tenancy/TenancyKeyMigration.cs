using AgentPlatform.Redis;
using StackExchange.Redis;

namespace AgentPlatform.Api.Tenancy;

/// <summary>
/// Moves tenants, keys, the audit log and budget spend written before the keys had hash tags
/// (<c>agentplatform:tenant:{id}</c>, <c>agentplatform:spend:key:{id}:{period}</c> …) to their tagged
/// names (<see cref="TenancyStore.Tag"/>, <see cref="TenantSlot"/>) before the Api serves: an upgrade
/// must not lose a tenant, a key or what a budget has spent. Safe to run again and beside replicas
/// already upgraded (<see cref="KeyMoves"/>), and a start that dies halfway finishes the move at the
/// next start (the indexes, which say what to move, go last).
/// </summary>
public sealed class TenancyKeyMigration(IConnectionMultiplexer redis, TenancyStore store, ILogger<TenancyKeyMigration> logger)
    : KeyNameMigration(redis)
{
    private const string OldPrefix = "agentplatform:";
    private static readonly RedisKey OldTenants = OldPrefix + "tenants";
    private static readonly RedisKey OldKeys = OldPrefix + "keys";
    private static readonly RedisKey OldAudit = OldPrefix + "audit";

    protected override async Task MoveAsync(IDatabase database)
    {
        var (tenants, keys) = await MoveTenancyAsync(database);
        var counters = await MoveSpendAsync(database);
        if (tenants + keys + counters > 0)
        {
            Log.TenancyKeysMoved(logger, tenants, keys, counters);
        }
    }

    private async Task<(int Tenants, int Keys)> MoveTenancyAsync(IDatabase database)
    {
        var (tenants, keys) = (await database.SetMembersAsync(OldTenants), await database.SetMembersAsync(OldKeys));
        if (tenants.Length == 0 && keys.Length == 0 && !await database.KeyExistsAsync(OldAudit))
        {
            return (0, 0);
        }
        foreach (var id in tenants)
        {
            await KeyMoves.MoveRecordAsync(database, OldPrefix + "tenant:" + id, TenancyStore.TenantKey(id!));
        }
        foreach (var id in keys)
        {
            await KeyMoves.MoveRecordAsync(database, OldPrefix + "key:" + id, TenancyStore.VirtualKeyKey(id!));
            if (await store.GetKeyAsync(id!) is { Hash: { Length: > 0 } keyHash })
            {
                await KeyMoves.MoveRecordAsync(database, OldPrefix + "keyhash:" + keyHash, TenancyStore.HashIndex(keyHash));
            }
        }
        await KeyMoves.MergeListAsync(database, OldAudit, TenancyStore.Audit, TenancyStore.AuditEntriesKept);
        await KeyMoves.MergeSetAsync(database, OldTenants, TenancyStore.Tenants);
        await KeyMoves.MergeSetAsync(database, OldKeys, TenancyStore.Keys);
        return (tenants.Length, keys.Length);
    }

    /// <summary>
    /// Every period's spend counter (<c>agentplatform:spend:&lt;scope&gt;:&lt;id&gt;:&lt;period&gt;</c>), summed
    /// into its tenant's slot. One scan of the node at each start: once moved, it finds nothing.
    /// </summary>
    private async Task<int> MoveSpendAsync(IDatabase database)
    {
        var moved = 0;
        await foreach (var old in KeyMoves.FindAsync(Redis, OldPrefix + "spend:*"))
        {
            // Ids and period ids hold no ':' (TenancyStore.NewId, BudgetPeriod).
            var parts = ((string)old!).Split(':');
            Limits? owner = parts is [_, _, "key", var keyId, _] ? await store.GetKeyAsync(keyId)
                : parts is [_, _, "tenant", var tenantId, _] ? await store.GetTenantAsync(tenantId)
                : null;
            if (owner is null)
            {
                continue; // its key or tenant is gone, and nothing reads it: it expires with its period
            }
            var to = new BudgetPeriod(parts[4], default, null).SpendKey(owner);
            moved += await KeyMoves.MoveCounterAsync(database, old, to) ? 1 : 0;
        }
        return moved;
    }
}
