using System.Security.Cryptography;
using System.Text.Json;
using StackExchange.Redis;

namespace AgentPlatform.Api.Tenancy;

/// <summary>
/// Tenants, keys and the admin audit log in Redis, shared by every Api replica. Each change is one
/// MULTI/EXEC transaction (object, indexes and audit entry together) followed by a message on
/// <see cref="ChangesChannel"/>, on which every replica drops what it cached of that tenant or key.
/// </summary>
public sealed class TenancyStore(IConnectionMultiplexer redis, TimeProvider timeProvider)
{
    public static readonly RedisChannel ChangesChannel = RedisChannel.Literal("agentplatform:tenancy:changed");

    /// <summary>Every virtual key starts so: easy to spot in a config file, and for secret scanners.</summary>
    public const string KeyPrefix = "ap-";

    internal const int AuditEntriesKept = 10_000;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    // One hash slot ({tenancy}) for every record, index and the audit log: each change is one MULTI, which
    // a Redis Cluster runs only on keys of one slot. Admin changes are rare and replicas cache what they
    // read, so the one slot is never busy (docs/redis.md).
    internal const string Tag = "agentplatform:{tenancy}:";
    internal static RedisKey TenantKey(string id) => $"{Tag}tenant:{id}";
    internal static RedisKey VirtualKeyKey(string id) => $"{Tag}key:{id}";
    internal static RedisKey HashIndex(string hash) => $"{Tag}keyhash:{hash}";
    internal static readonly RedisKey Tenants = Tag + "tenants";
    internal static readonly RedisKey Keys = Tag + "keys";
    internal static readonly RedisKey Audit = Tag + "audit";

    private IDatabase Database => redis.GetDatabase();

    /// <summary>Stores <paramref name="draft"/> (its limits as given) as a new tenant with its id and times.</summary>
    public async Task<Tenant> CreateTenantAsync(Tenant draft)
    {
        var now = timeProvider.GetUtcNow();
        var tenant = draft with { Id = NewId("ten"), CreatedAt = now, UpdatedAt = now };
        var transaction = Database.CreateTransaction();
        _ = transaction.StringSetAsync(TenantKey(tenant.Id), JsonSerializer.Serialize(tenant, Json));
        _ = transaction.SetAddAsync(Tenants, tenant.Id);
        AddAudit(transaction, "tenant.created", tenant.Id, now);
        await transaction.ExecuteAsync();
        return tenant;
    }

    public async Task<Tenant?> GetTenantAsync(string id) => Read<Tenant>(await Database.StringGetAsync(TenantKey(id)));

    public async Task<IReadOnlyList<Tenant>> ListTenantsAsync() => await ReadAllAsync<Tenant>(Tenants, TenantKey);

    public async Task<Tenant> UpdateTenantAsync(Tenant tenant)
    {
        tenant = tenant with { UpdatedAt = timeProvider.GetUtcNow() };
        await SaveAsync(TenantKey(tenant.Id), tenant, "tenant.updated", tenant.Id, $"tenant:{tenant.Id}", tenant.UpdatedAt);
        return tenant;
    }

    /// <summary>Deletes a tenant and revokes every key it owns.</summary>
    public async Task DeleteTenantAsync(Tenant tenant)
    {
        var now = timeProvider.GetUtcNow();
        var keys = (await ListKeysAsync()).Where(k => k.TenantId == tenant.Id && k.RevokedAt is null).ToList();
        var transaction = Database.CreateTransaction();
        foreach (var key in keys)
        {
            _ = transaction.StringSetAsync(VirtualKeyKey(key.Id), JsonSerializer.Serialize(key with { RevokedAt = now, UpdatedAt = now }, Json));
            AddAudit(transaction, "key.revoked", key.Id, now);
        }
        _ = transaction.KeyDeleteAsync(TenantKey(tenant.Id));
        _ = transaction.SetRemoveAsync(Tenants, tenant.Id);
        AddAudit(transaction, "tenant.deleted", tenant.Id, now);
        await transaction.ExecuteAsync();
        await PublishAsync($"tenant:{tenant.Id}");
    }

    /// <summary>Creates a key for <paramref name="tenant"/>; returns it with its plaintext, which is never stored or shown again.</summary>
    public async Task<(VirtualKey Key, string Plaintext)> CreateKeyAsync(Tenant tenant, VirtualKey draft)
    {
        var plaintext = KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var now = timeProvider.GetUtcNow();
        var key = draft with
        {
            Id = NewId("key"),
            TenantId = tenant.Id,
            Hash = HashOf(plaintext),
            KeyHint = $"{plaintext[..7]}...{plaintext[^4..]}",
            CreatedAt = now,
            UpdatedAt = now,
        };
        var transaction = Database.CreateTransaction();
        _ = transaction.StringSetAsync(VirtualKeyKey(key.Id), JsonSerializer.Serialize(key, Json));
        _ = transaction.StringSetAsync(HashIndex(key.Hash), key.Id);
        _ = transaction.SetAddAsync(Keys, key.Id);
        AddAudit(transaction, "key.created", key.Id, now);
        await transaction.ExecuteAsync();
        // Replicas may hold "no such key" for this hash, or "no virtual keys yet": both change now.
        await PublishAsync($"key:{key.Id}");
        return (key, plaintext);
    }

    public async Task<VirtualKey?> GetKeyAsync(string id) => Read<VirtualKey>(await Database.StringGetAsync(VirtualKeyKey(id)));

    public async Task<IReadOnlyList<VirtualKey>> ListKeysAsync() => await ReadAllAsync<VirtualKey>(Keys, VirtualKeyKey);

    public async Task<VirtualKey> UpdateKeyAsync(VirtualKey key, string action = "key.updated")
    {
        key = key with { UpdatedAt = timeProvider.GetUtcNow() };
        await SaveAsync(VirtualKeyKey(key.Id), key, action, key.Id, $"key:{key.Id}", key.UpdatedAt);
        return key;
    }

    /// <summary>
    /// What each of <paramref name="owners"/> (scope <c>tenant</c> or <c>key</c>, its limits, its id) has
    /// spent in its budget period current <paramref name="at"/> (default: now), in nano-USD, with the
    /// period — in one read. Spend includes what requests in flight have reserved.
    /// </summary>
    public async Task<IReadOnlyList<(BudgetPeriod Period, long SpentNanoUsd)>> ReadSpendAsync(
        IReadOnlyList<(string Scope, Limits Limits, string Id)> owners, DateTimeOffset? at = null)
    {
        var now = at ?? timeProvider.GetUtcNow();
        var periods = owners.Select(o => BudgetPeriod.Current(o.Limits.BudgetPeriod, now)).ToList();
        // One GET each, pipelined, not an MGET: the counters live in their owners' hash slots.
        var database = Database;
        var values = await Task.WhenAll(owners.Select((o, i) => database.StringGetAsync(periods[i].SpendKey(o.Limits))));
        return periods.Select((period, i) => (period, values[i].HasValue ? (long)values[i] : 0L)).ToList();
    }

    /// <summary>
    /// Sets a key's or tenant's spend in the current budget period back to zero (a budget reset by
    /// hand: after a refund, say), then writes its audit entry. Two steps, as the counter and the log
    /// live in different hash slots: if the second fails the admin is told (500) and the reset, done,
    /// is safe to ask again. Requests in flight settle against the new count.
    /// </summary>
    public async Task ResetSpendAsync(string scope, Limits limits, string id)
    {
        var now = timeProvider.GetUtcNow();
        await Database.KeyDeleteAsync(BudgetPeriod.Current(limits.BudgetPeriod, now).SpendKey(limits));
        var transaction = Database.CreateTransaction();
        AddAudit(transaction, $"{scope}.spend_reset", id, now);
        await transaction.ExecuteAsync();
    }

    /// <summary>Writes a changed record with its audit entry in one transaction, then tells every replica.</summary>
    private async Task SaveAsync<T>(RedisKey redisKey, T record, string action, string target, string change, DateTimeOffset at)
    {
        var transaction = Database.CreateTransaction();
        _ = transaction.StringSetAsync(redisKey, JsonSerializer.Serialize(record, Json));
        AddAudit(transaction, action, target, at);
        await transaction.ExecuteAsync();
        await PublishAsync(change);
    }

    /// <summary>The key whose plaintext hashes to <paramref name="hash"/>, and its tenant, in two round trips.</summary>
    public async Task<(VirtualKey? Key, Tenant? Tenant)> FindByHashAsync(string hash)
    {
        var id = await Database.StringGetAsync(HashIndex(hash));
        if (id.IsNullOrEmpty || await GetKeyAsync(id!) is not { } key)
        {
            return (null, null);
        }
        return (key, await GetTenantAsync(key.TenantId));
    }

    public async Task<bool> AnyKeysAsync() => await Database.SetLengthAsync(Keys) > 0;

    /// <summary>The newest audit entries first.</summary>
    public async Task<IReadOnlyList<AuditEntry>> ReadAuditAsync(int limit)
    {
        var entries = await Database.ListRangeAsync(Audit, 0, limit - 1);
        return entries.Select(e => JsonSerializer.Deserialize<AuditEntry>((string)e!, Json)!).ToList();
    }

    /// <summary>The key's SHA-256 as lowercase hex: what is stored and looked up, never the key.</summary>
    public static string HashOf(ReadOnlySpan<char> plaintext)
    {
        Span<byte> utf8 = stackalloc byte[System.Text.Encoding.UTF8.GetMaxByteCount(plaintext.Length)];
        var length = System.Text.Encoding.UTF8.GetBytes(plaintext, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], hash);
        return Convert.ToHexStringLower(hash);
    }

    /// <summary>Raised on this replica for every change it makes, before the other replicas hear of it.</summary>
    public event Action<string>? Changed;

    /// <summary>Applies the change here at once (an admin call is followed by its effect on the same replica), then tells the others.</summary>
    private Task PublishAsync(string change)
    {
        Changed?.Invoke(change);
        return redis.GetSubscriber().PublishAsync(ChangesChannel, change);
    }

    private static void AddAudit(ITransaction transaction, string action, string target, DateTimeOffset at)
    {
        // The admin API has one credential, the master key, so "who" is the admin; the entry says what and when.
        _ = transaction.ListLeftPushAsync(Audit, JsonSerializer.Serialize(new AuditEntry(at, "admin", action, target), Json));
        _ = transaction.ListTrimAsync(Audit, 0, AuditEntriesKept - 1);
    }

    private async Task<IReadOnlyList<T>> ReadAllAsync<T>(RedisKey index, Func<string, RedisKey> keyOf)
    {
        var ids = await Database.SetMembersAsync(index);
        if (ids.Length == 0)
        {
            return [];
        }
        var values = await Database.StringGetAsync(ids.Select(id => keyOf(id!)).ToArray());
        return values.Select(Read<T>).OfType<T>().ToList();
    }

    private static T? Read<T>(RedisValue value) => value.IsNullOrEmpty ? default : JsonSerializer.Deserialize<T>((string)value!, Json);

    private static string NewId(string prefix) => $"{prefix}_{Guid.CreateVersion7():N}";

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>One admin change: when, by whom, what, to which tenant or key.</summary>
public sealed record AuditEntry(DateTimeOffset At, string Actor, string Action, string Target);
