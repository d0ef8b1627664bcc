using StackExchange.Redis;

namespace AgentPlatform.Api.Tenancy;

/// <summary>
/// Moves tenants, keys and the audit log written before the keys had a hash tag
/// (<c>agentplatform:tenant:{id}</c> …) to their tagged names (<see cref="TenancyStore.Tag"/>) before the
/// Api serves: an upgrade must not lose a tenant or a key. Only a single Redis can hold the old names (no
/// cluster ran a version that wrote them), so the scripts may touch an old and a new key together. Safe
/// to run again and beside replicas already upgraded: a record found under both names keeps the new
/// one, an index or the audit log is merged into the new one, and a start that dies halfway finishes
/// the move at the next start (the indexes, which say what to move, go last).
/// </summary>
public sealed class TenancyKeyMigration(IConnectionMultiplexer redis, TenancyStore store, ILogger<TenancyKeyMigration> logger) : IHostedService
{
    private const string OldPrefix = "agentplatform:";
    private static readonly RedisKey OldTenants = OldPrefix + "tenants";
    private static readonly RedisKey OldKeys = OldPrefix + "keys";
    private static readonly RedisKey OldAudit = OldPrefix + "audit";

    private const string MoveRecordScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DEL', KEYS[1]) else redis.call('RENAME', KEYS[1], KEYS[2]) end
        return 1
        """;

    private const string MergeSetScript = """
        redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
        return redis.call('DEL', KEYS[1])
        """;

    // The old entries are older than any under the new name: they go after them (the log is newest first).
    private const string MergeListScript = """
        local old = redis.call('LRANGE', KEYS[1], 0, -1)
        for i = 1, #old do redis.call('RPUSH', KEYS[2], old[i]) end
        redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[1]) - 1)
        return redis.call('DEL', KEYS[1])
        """;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var database = redis.GetDatabase();
        var (tenants, keys) = (await database.SetMembersAsync(OldTenants), await database.SetMembersAsync(OldKeys));
        if (tenants.Length == 0 && keys.Length == 0 && !await database.KeyExistsAsync(OldAudit))
        {
            return;
        }
        foreach (var id in tenants)
        {
            await database.ScriptEvaluateAsync(MoveRecordScript, [OldPrefix + "tenant:" + id, TenancyStore.TenantKey(id!)]);
        }
        foreach (var id in keys)
        {
            await database.ScriptEvaluateAsync(MoveRecordScript, [OldPrefix + "key:" + id, TenancyStore.VirtualKeyKey(id!)]);
            if (await store.GetKeyAsync(id!) is { Hash: { Length: > 0 } keyHash })
            {
                await database.ScriptEvaluateAsync(MoveRecordScript, [OldPrefix + "keyhash:" + keyHash, TenancyStore.HashIndex(keyHash)]);
            }
        }
        await database.ScriptEvaluateAsync(MergeListScript, [OldAudit, TenancyStore.Audit], [TenancyStore.AuditEntriesKept]);
        await database.ScriptEvaluateAsync(MergeSetScript, [OldTenants, TenancyStore.Tenants]);
        await database.ScriptEvaluateAsync(MergeSetScript, [OldKeys, TenancyStore.Keys]);
        Log.TenancyKeysMoved(logger, tenants.Length, keys.Length);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
