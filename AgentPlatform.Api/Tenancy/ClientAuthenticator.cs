using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using AgentPlatform.Api.Keys;
using AgentPlatform.ServiceDefaults.OpenAI;

namespace AgentPlatform.Api.Tenancy;

/// <summary>Who is calling <c>/v1</c>: a virtual key and its tenant, or — until any key exists — the master key.</summary>
public sealed record ClientIdentity(VirtualKey? Key, Tenant? Tenant)
{
    public static readonly ClientIdentity MasterKey = new(null, null);

    /// <summary>Both the key and its tenant must allow the model group.</summary>
    public bool AllowsModel(string model) => (Key?.AllowsModel(model) ?? true) && (Tenant?.AllowsModel(model) ?? true);

    public bool RestrictsModels => Key?.Models.Count > 0 || Tenant?.Models.Count > 0;

    /// <summary>Whether the key or its tenant carries any limit or budget (or the request can skip Redis).</summary>
    public bool IsLimited => Limited(Key) || Limited(Tenant);

    /// <summary>Whether a request must be sized before it is sent: a tokens-per-minute limit or a budget.</summary>
    public bool NeedsDemand => Key?.Tpm is not null || Key?.BudgetUsd is not null || Tenant?.Tpm is not null || Tenant?.BudgetUsd is not null;

    public bool HasBudget => Key?.BudgetUsd is not null || Tenant?.BudgetUsd is not null;

    private static bool Limited(Limits? limits) =>
        limits is not null && (limits.Rpm is not null || limits.Tpm is not null || limits.MaxConcurrent is not null || limits.BudgetUsd is not null);
}

/// <summary>
/// Authenticates client calls by virtual key: the key's SHA-256 is looked up in Redis once, then served
/// from this replica's cache. A change to a key or tenant anywhere drops it from every replica's cache
/// through Redis pub/sub (<see cref="TenancyChangesListener"/>), so a revocation holds everywhere within
/// a round trip; entries also expire after <see cref="CacheLifetime"/> in case a message was missed.
/// </summary>
public sealed class ClientAuthenticator
{
    private readonly TenancyStore _store;
    private readonly MasterKeyAuthenticator _masterKey;
    private readonly TimeProvider _timeProvider;

    public ClientAuthenticator(TenancyStore store, MasterKeyAuthenticator masterKey, TimeProvider timeProvider)
    {
        _store = store;
        _masterKey = masterKey;
        _timeProvider = timeProvider;
        store.Changed += Apply;
    }

    public static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, CachedKey> _byHash = new(StringComparer.Ordinal);
    /// <summary>Whether any virtual key exists (then the master key is for admin only); null when not known.</summary>
    private volatile StrongBox<bool>? _anyKeys;

    private sealed record CachedKey(VirtualKey? Key, Tenant? Tenant, long FetchedAt);

    /// <summary>The caller, or null after answering 401 (missing, wrong, revoked or expired key).</summary>
    public async ValueTask<ClientIdentity?> AuthenticateAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        if (header.Length == 0)
        {
            return await RefuseAsync(context, "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.", "missing_api_key");
        }
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) || header.Length > 600)
        {
            return await RefuseAsync(context, "Incorrect API key provided.", "invalid_api_key");
        }
        var presented = header.AsSpan(Scheme.Length).Trim();

        if (_masterKey.IsMasterKey(presented))
        {
            return await AnyKeysAsync()
                ? await RefuseAsync(context, "The master key is the admin credential. Call /v1 with a virtual key (create one with POST /admin/v1/keys).", "master_key_not_a_client_key")
                : ClientIdentity.MasterKey;
        }

        var hash = TenancyStore.HashOf(presented);
        var now = _timeProvider.GetTimestamp();
        if (!_byHash.TryGetValue(hash, out var cached) || _timeProvider.GetElapsedTime(cached.FetchedAt, now) > CacheLifetime)
        {
            var (key, tenant) = await _store.FindByHashAsync(hash);
            cached = new CachedKey(key, tenant, now);
            _byHash[hash] = cached;
        }

        var utcNow = _timeProvider.GetUtcNow();
        return cached switch
        {
            { Key: null } => await RefuseAsync(context, "Incorrect API key provided.", "invalid_api_key"),
            { Key.RevokedAt: not null } => await RefuseAsync(context, "This API key has been revoked.", "key_revoked"),
            { Tenant: null } => await RefuseAsync(context, "This API key's tenant no longer exists.", "key_revoked"),
            _ when cached.Key.HasExpired(utcNow) => await RefuseAsync(context, "This API key has expired.", "key_expired"),
            _ when cached.Tenant.HasExpired(utcNow) => await RefuseAsync(context, "This API key's tenant has expired.", "key_expired"),
            _ => new ClientIdentity(cached.Key, cached.Tenant),
        };
    }

    /// <summary>Drops what a change (<c>key:{id}</c> or <c>tenant:{id}</c>, made here or on another replica) makes stale.</summary>
    public void Apply(string change)
    {
        if (change.StartsWith("key:", StringComparison.Ordinal))
        {
            ForgetKey(change["key:".Length..]);
        }
        else if (change.StartsWith("tenant:", StringComparison.Ordinal))
        {
            ForgetTenant(change["tenant:".Length..]);
        }
    }

    /// <summary>Drops what is cached of a key (and every "no such key" answer, which a new key may now match).</summary>
    public void ForgetKey(string id)
    {
        foreach (var (hash, cached) in _byHash)
        {
            if (cached.Key is null || cached.Key.Id == id)
            {
                _byHash.TryRemove(hash, out _);
            }
        }
        _anyKeys = null;
    }

    public void ForgetTenant(string id)
    {
        foreach (var (hash, cached) in _byHash)
        {
            if (cached.Key?.TenantId == id)
            {
                _byHash.TryRemove(hash, out _);
            }
        }
    }

    public void ForgetAll()
    {
        _byHash.Clear();
        _anyKeys = null;
    }

    private async ValueTask<bool> AnyKeysAsync()
    {
        if (_anyKeys is { } known)
        {
            return known.Value;
        }
        var any = await _store.AnyKeysAsync();
        _anyKeys = new StrongBox<bool>(any);
        return any;
    }

    private static async ValueTask<ClientIdentity?> RefuseAsync(HttpContext context, string message, string code)
    {
        await OpenAIError.WriteAsync(context, StatusCodes.Status401Unauthorized, message, OpenAIError.Authentication, code);
        return null;
    }
}
