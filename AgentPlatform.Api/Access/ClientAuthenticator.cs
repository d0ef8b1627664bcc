using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Redis;

namespace AgentPlatform.Api.Access;

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

    private sealed record CachedKey(VirtualKey Key, Tenant? Tenant, long FetchedAt)
    {
        /// <summary>Made once per fetch, so an authenticated request allocates no principal of its own.</summary>
        public ClientPrincipal Principal { get; } = new(new ClientIdentity(Key, Tenant), AccessSchemes.VirtualKey);
    }

    /// <summary>Where Anthropic's SDKs put the key.</summary>
    public const string AnthropicKeyHeader = "x-api-key";

    private static readonly ClientPrincipal MasterKeyClient = new(ClientIdentity.MasterKey, AccessSchemes.VirtualKey);

    /// <summary>The caller (<see cref="ClientPrincipal"/>), or why it is refused: a missing, wrong, revoked or expired key.</summary>
    public async ValueTask<(ClientPrincipal? Client, OpenAIErrorResult? Refusal)> AuthenticateAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        var schemeLength = Scheme.Length;
        if (header.Length == 0)
        {
            // Anthropic's clients send the key as x-api-key: taken at every door, as the same key.
            header = context.Request.Headers[AnthropicKeyHeader].ToString();
            schemeLength = 0;
            if (header.Length == 0)
            {
                return (null, AccessRefusal.Missing);
            }
        }
        else if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return (null, AccessRefusal.Invalid);
        }
        if (header.Length > 600)
        {
            return (null, AccessRefusal.Invalid);
        }
        var presented = header.AsSpan(schemeLength).Trim();

        if (_masterKey.IsMasterKey(presented))
        {
            return await AnyKeysAsync() switch
            {
                true => (null, MasterKeyIsForAdmin),
                false => (MasterKeyClient, null),
                null => (null, AccessRefusal.Unavailable),
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
                return (null, AccessRefusal.TurnedAway(wait));
            }
            if (_unknown.TryGetUntil(hash, now, out _))
            {
                return (null, AccessRefusal.Invalid);
            }
        }
        if (cached is null || !IsFresh(cached.FetchedAt, now, CacheLifetime))
        {
            (cached, var refusal) = await FetchAsync(hash, now, cached);
            if (refusal is not null)
            {
                return (null, refusal);
            }
        }
        return Judge(cached!);
    }

    /// <summary>
    /// The key of <paramref name="hash"/> read from Redis, or why there is none. When Redis cannot be
    /// read, a key known before (<paramref name="known"/>) stands as it was until Redis answers again.
    /// </summary>
    private async ValueTask<(CachedKey? Key, OpenAIErrorResult? Refusal)> FetchAsync(string hash, long now, CachedKey? known)
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
                return (null, AccessRefusal.Invalid);
            }
            var fetched = new CachedKey(key, tenant, now);
            _byHash[hash] = fetched;
            return (fetched, null);
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            Log.KeysUnavailable(_logger, known: known is not null, exception);
            return known is null ? (null, AccessRefusal.Unavailable) : (known, null);
        }
    }

    /// <summary>The key's client, or why the key may not be used now.</summary>
    private (ClientPrincipal? Client, OpenAIErrorResult? Refusal) Judge(CachedKey cached)
    {
        var utcNow = _timeProvider.GetUtcNow();
        return cached switch
        {
            { Key.RevokedAt: not null } => (null, Revoked),
            { Tenant: null } => (null, TenantGone),
            _ when cached.Key.HasExpired(utcNow) => (null, Expired),
            _ when cached.Tenant.HasExpired(utcNow) => (null, TenantExpired),
            _ => (cached.Principal, null),
        };
    }

    private static readonly OpenAIErrorResult MasterKeyIsForAdmin = AccessRefusal.Unauthorized(
        "The master key is the admin credential. Call /v1 with a virtual key (create one with POST /admin/v1/keys).", "master_key_not_a_client_key");
    private static readonly OpenAIErrorResult Revoked = AccessRefusal.Unauthorized("This API key has been revoked.", "key_revoked");
    private static readonly OpenAIErrorResult TenantGone = AccessRefusal.Unauthorized("This API key's tenant no longer exists.", "key_revoked");
    private static readonly OpenAIErrorResult Expired = AccessRefusal.Unauthorized("This API key has expired.", "key_expired");
    private static readonly OpenAIErrorResult TenantExpired = AccessRefusal.Unauthorized("This API key's tenant has expired.", "key_expired");

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
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            Log.KeysUnavailable(_logger, known: false, exception);
            return null;
        }
    }
}
