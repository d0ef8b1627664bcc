using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using AgentPlatform.Api.Keys;
using AgentPlatform.Contracts.OpenAI;
using StackExchange.Redis;

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

    /// <summary>Who the Router's breakers take the request to be from: the tenant, else the key (else the master key).</summary>
    public string RouterClientId => Tenant?.Id ?? Key?.Id ?? "master";

    private static bool Limited(Limits? limits) =>
        limits is not null && (limits.Rpm is not null || limits.Tpm is not null || limits.MaxConcurrent is not null || limits.BudgetUsd is not null);
}

/// <summary>
/// Authenticates client calls by virtual key: the key's SHA-256 is looked up in Redis once, then served
/// from this replica's cache. A change to a key or tenant anywhere drops it from every replica's cache
/// through Redis pub/sub (<see cref="TenancyChangesListener"/>), so a revocation holds everywhere within
/// a round trip; entries also expire after <see cref="CacheLifetime"/> in case a message was missed.
/// While Redis cannot be reached, a key this replica already knows stays as it knew it (rather than every
/// client being turned away for a Redis outage); a key it has never seen gets 503.
/// </summary>
public sealed class ClientAuthenticator
{
    private readonly TenancyStore _store;
    private readonly MasterKeyAuthenticator _masterKey;
    private readonly FailedAuthentications _failures;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<ClientAuthenticator> _logger;

    /// <summary>Entries fetched before this timestamp are stale (set when Redis reconnects: changes may have been missed).</summary>
    private long _staleBefore;

    public ClientAuthenticator(
        TenancyStore store, MasterKeyAuthenticator masterKey, FailedAuthentications failures, TimeProvider timeProvider, ILogger<ClientAuthenticator> logger)
    {
        _store = store;
        _masterKey = masterKey;
        _failures = failures;
        _timeProvider = timeProvider;
        _logger = logger;
        store.Changed += Apply;
    }

    public static readonly TimeSpan CacheLifetime = TimeSpan.FromSeconds(60);

    /// <summary>How long "no such key" is remembered: long enough to spare Redis a client retrying a wrong key, short enough not to matter.</summary>
    public static readonly TimeSpan UnknownKeyLifetime = TimeSpan.FromSeconds(5);

    /// <summary>The most "no such key" answers remembered; made-up keys never repeat, so past this they are not kept at all.</summary>
    public const int MaxUnknownKeys = 10_000;

    /// <summary>Keys that exist (revoked and expired ones too), by hash: bounded by the keys in Redis.</summary>
    private readonly ConcurrentDictionary<string, CachedKey> _byHash = new(StringComparer.Ordinal);
    /// <summary>Hashes Redis had no key for, until their "no such key" lapses.</summary>
    private readonly BoundedExpirySet _unknown = new(MaxUnknownKeys);
    /// <summary>Whether any virtual key exists (then the master key is for admin only); null when not known.</summary>
    private volatile StrongBox<bool>? _anyKeys;

    private sealed record CachedKey(VirtualKey Key, Tenant? Tenant, long FetchedAt);

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
            return await AnyKeysAsync() switch
            {
                true => await RefuseAsync(context, "The master key is the admin credential. Call /v1 with a virtual key (create one with POST /admin/v1/keys).", "master_key_not_a_client_key"),
                false => ClientIdentity.MasterKey,
                null => await UnavailableAsync(context),
            };
        }

        var hash = TenancyStore.HashOf(presented);
        var now = _timeProvider.GetTimestamp();
        _byHash.TryGetValue(hash, out var cached);
        if (cached is null)
        {
            // An address turned away for its failures may still use a key this replica knows; nothing else is looked up.
            if (_failures.RetryAfter(context) is { } wait)
            {
                await _failures.TurnAwayAsync(context, wait);
                return null;
            }
            if (_unknown.TryGetUntil(hash, now, out _))
            {
                return await RefuseAsync(context, "Incorrect API key provided.", "invalid_api_key");
            }
        }
        if (cached is null || !IsFresh(cached.FetchedAt, now, CacheLifetime))
        {
            try
            {
                var (key, tenant) = await _store.FindByHashAsync(hash);
                if (key is null)
                {
                    _byHash.TryRemove(hash, out _);
                    if (now >= Volatile.Read(ref _staleBefore)) // not what was learned before Redis came back
                    {
                        _unknown.Add(hash, now + (long)(UnknownKeyLifetime.TotalSeconds * _timeProvider.TimestampFrequency), now);
                    }
                    return await RefuseAsync(context, "Incorrect API key provided.", "invalid_api_key");
                }
                cached = new CachedKey(key, tenant, now);
                _byHash[hash] = cached;
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException)
            {
                Log.KeysUnavailable(_logger, known: cached is not null, exception);
                if (cached is null)
                {
                    return await UnavailableAsync(context);
                }
                // Known before Redis went away: it stands as it was until Redis answers again.
            }
        }

        var utcNow = _timeProvider.GetUtcNow();
        return cached switch
        {
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
            if (cached.Key.Id == id)
            {
                _byHash.TryRemove(hash, out _);
            }
        }
        _unknown.Clear();
        _anyKeys = null;
    }

    /// <summary>How many "no such key" answers are remembered now (for tests of the bound).</summary>
    internal int UnknownKeyCount => _unknown.Count;

    private bool IsFresh(long fetchedAt, long now, TimeSpan lifetime) =>
        _timeProvider.GetElapsedTime(fetchedAt, now) <= lifetime && fetchedAt >= Volatile.Read(ref _staleBefore);

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

    /// <summary>
    /// Makes every entry stale (Redis reconnected: a change may have been missed) but keeps it, so a
    /// request that finds Redis away again is still answered from what was known.
    /// </summary>
    public void MarkAllStale()
    {
        Volatile.Write(ref _staleBefore, _timeProvider.GetTimestamp());
        _unknown.Clear();
        _anyKeys = null;
    }

    /// <summary>Whether any virtual key exists; null when Redis cannot say and it is not known here.</summary>
    private async ValueTask<bool?> AnyKeysAsync()
    {
        if (_anyKeys is { } known)
        {
            return known.Value;
        }
        try
        {
            var any = await _store.AnyKeysAsync();
            _anyKeys = new StrongBox<bool>(any);
            return any;
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            Log.KeysUnavailable(_logger, known: false, exception);
            return null;
        }
    }

    private static async ValueTask<ClientIdentity?> UnavailableAsync(HttpContext context)
    {
        context.Response.Headers.RetryAfter = "1";
        await OpenAIError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
            "API keys cannot be checked right now; try again shortly.", OpenAIError.Server, "keys_unavailable");
        return null;
    }

    private async ValueTask<ClientIdentity?> RefuseAsync(HttpContext context, string message, string code)
    {
        await _failures.OnFailureAsync(context, code);
        await OpenAIError.WriteAsync(context, StatusCodes.Status401Unauthorized, message, OpenAIError.Authentication, code);
        return null;
    }
}
