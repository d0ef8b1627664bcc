using System.Collections.Concurrent;
using AgentPlatform.Api.Limits;
using AgentPlatform.Redis;
using AgentPlatform.ServiceDefaults.Lifecycle;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentPlatform.Api.Caching;

/// <summary>
/// The response cache: this replica's memory for the hottest entries, Redis for the entries every
/// replica shares, and single flight — when many identical requests miss at once, on one replica or
/// many, one goes upstream and the rest wait for its answer.
/// </summary>
/// <remarks>
/// <para>
/// Single flight across replicas: a miss in Redis takes a fill lease in the same script that read the
/// entry (one round trip, and no gap in which two replicas both see "no entry, no filler"). The lease
/// holder fills; everyone else waits for a message on <see cref="FillsChannel"/> (or the lease's
/// expiry) and reads again. The filler renews its lease while it is alive, so a slow answer keeps it
/// and a dead replica loses it within <see cref="CacheOptions.FillLeaseSeconds"/>; a filler that fails
/// gives the lease up at once and the next reader takes it over. On one replica, identical requests
/// share one <see cref="Flight"/>, so only one of them talks to Redis at all.
/// </para>
/// <para>
/// On one Redis node, the request that wins the lease also takes its limits and budgets in that script
/// (<see cref="LookupAndReserveScript"/>): a miss then pays one round trip before the Router, not two. A
/// Redis Cluster keeps an entry and a tenant's limits in different slots, so there the limiter runs its
/// own script after the lookup.
/// </para>
/// <para>
/// Not HybridCache: its stampede protection is per process, and its distributed level is read and
/// written through <c>IDistributedCache</c>, which cannot take the fill lease in the same round trip
/// as the read. A fill here is also not a factory returning a value: the filler streams its answer to
/// its own client while the entry is being made. What HybridCache would give on top — a local level
/// with a size limit — comes from <see cref="MemoryCache"/>, which it uses too.
/// </para>
/// </remarks>
public sealed class ResponseCache : IDisposable
{
    /// <summary>Request header: a TTL in seconds, shorter than the configured one, for the answer stored.</summary>
    public const string TtlHeader = "x-agentplatform-cache-ttl";

    public const string KeyPrefix = "agentplatform:cache:";

    /// <summary>Where a filler announces that an entry was stored or given up (the message is the entry's key).</summary>
    public static readonly RedisChannel FillsChannel = RedisChannel.Literal("agentplatform:cache:fills");

    /// <summary>Published on <see cref="FillsChannel"/> by a purge: every replica empties its memory level.</summary>
    private const string PurgeMessage = "purge";

    /// <summary>The longest a waiter sleeps between reads, in case a fill's message was lost with a connection.</summary>
    private static readonly TimeSpan MaxPoll = TimeSpan.FromSeconds(1);

    private const string LookupScript = """
        -- KEYS[1] the entry, KEYS[2] its fill lease, KEYS[3] its "someone waits" mark; ARGV[1] this request's
        -- lease token, ARGV[2] lease (ms), ARGV[3] '1' when the request will store its answer (else it only
        -- reads: no lease, no waiting)
        local entry = redis.call('GET', KEYS[1])
        if entry then return {1, entry, redis.call('PTTL', KEYS[1])} end
        if ARGV[3] ~= '1' then return {0} end
        if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
        redis.call('SET', KEYS[3], 1, 'PX', ARGV[2])
        return {3, redis.call('PTTL', KEYS[2])}
        """;

    /// <summary>
    /// The lookup, and when this request wins the fill lease, its reservation in its limits: KEYS[1..3] and
    /// ARGV[1..2] as the lookup's, then the limits' keys and the reserve script's arguments. A refused
    /// reservation leaves no lease (nobody saw it: one script), so the next reader fills.
    /// </summary>
    private const string LookupAndReserveScript = RequestLimiter.ReserveFunction + """
        local entry = redis.call('GET', KEYS[1])
        if entry then return {1, entry, redis.call('PTTL', KEYS[1])} end
        if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
          redis.call('SET', KEYS[3], 1, 'PX', ARGV[2])
          return {3, redis.call('PTTL', KEYS[2])}
        end
        local reserved = reserve({unpack(KEYS, 4, #KEYS)}, {unpack(ARGV, 3, #ARGV)})
        if reserved[1] ~= 0 then redis.call('DEL', KEYS[2]) end
        return {2, reserved}
        """;

    private const string StoreScript = """
        -- KEYS[1] the entry, KEYS[2] its fill lease, KEYS[3] its "someone waits" mark; ARGV[1] the entry,
        -- ARGV[2] its TTL (ms), ARGV[3] the lease token. Returns 1 when someone waits (then announce it).
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
        return redis.call('DEL', KEYS[3])
        """;

    /// <summary>
    /// The store, and the settlement of the request that filled it (<see cref="RequestLease.SettleFunction"/>):
    /// KEYS[1..3] and ARGV[1..3] as the store's, then the limits' keys and the settle script's arguments.
    /// </summary>
    private const string StoreAndSettleScript = RequestLease.SettleFunction + """
        settle({unpack(KEYS, 4, #KEYS)}, {unpack(ARGV, 4, #ARGV)})
        """ + StoreScript;

    private const string ReleaseScript = """
        -- KEYS[1] the fill lease, KEYS[2] its "someone waits" mark. Returns 1 when someone waits.
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
        return redis.call('DEL', KEYS[2])
        """;

    private const string RenewScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        """;

    private readonly IConnectionMultiplexer _redis;
    private readonly CacheOptions _options;
    private readonly CacheMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<ResponseCache> _logger;
    private readonly Drain _drain;
    private readonly MemoryCache? _local;
    private readonly ConcurrentDictionary<string, Flight> _flights = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _fillSignals = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<CacheFill, byte> _filling = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _subscribing = new();
    private Task? _subscription;
    private readonly Random _random;

    /// <summary>
    /// Whether the cache's scripts may take the request's limits too (the reservation in the lookup, the
    /// settlement in the store): on one node, not on a cluster, where they are in other slots.
    /// </summary>
    private readonly bool _takesLimits;

    public ResponseCache(
        IConnectionMultiplexer redis, IOptions<CacheOptions> options, CacheMetrics metrics, Drain drain, TimeProvider timeProvider, Random random, ILogger<ResponseCache> logger)
    {
        _random = random;
        _drain = drain;
        _redis = redis;
        _options = options.Value;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _logger = logger;
        _takesLimits = RedisTopology.IsOneNode(redis);
        _local = _options.LocalSizeBytes > 0 ? new MemoryCache(new MemoryCacheOptions { SizeLimit = _options.LocalSizeBytes }) : null;
        // Subscribed from the start, not at the first wait: a purge must reach this replica's memory level too.
        _ = EnsureSubscribedAsync();
        _ = RenewLeasesAsync(_stopping.Token);
    }

    public CacheOptions Options => _options;

    public CacheMetrics Metrics => _metrics;

    /// <summary>
    /// An entry's key. Its fill lease and "someone waits" mark add a suffix, and all three share the hash
    /// tag <c>{scope:hash}</c>: the lookup and store scripts take them together, which a Redis Cluster runs
    /// only within one slot — and the entries spread over the shards.
    /// </summary>
    public static string EntryKey(string scope, string requestHash) => $"{KeyPrefix}{{{scope}:{requestHash}}}";

    /// <summary>A SCAN pattern for the entries (with their leases and marks) of one scope, or of all (null).</summary>
    public static string ScopePattern(string? scope) => scope is null ? $"{KeyPrefix}*" : $"{KeyPrefix}{{{scope}:*";

    /// <summary>
    /// Finds the answer for a request: from memory, from Redis, or by waiting for the request that is
    /// filling it (up to <see cref="CacheOptions.FillWaitSeconds"/>). Without one, the caller goes
    /// upstream — as the entry's filler when it got the lease (<see cref="CacheLookup.Fill"/>).
    /// </summary>
    /// <param name="fills">
    /// Whether the request will store its answer. One that will not (<c>no-store</c>) only reads: it never
    /// takes the fill lease, so nobody waits for an answer it would not store.
    /// </param>
    /// <param name="reserving">
    /// The request's reservation in its limits, made ready when asked (each time: its time is the script's
    /// now): taken in the lookup's own script when this request wins the fill lease on one Redis node
    /// (<see cref="CacheLookup.Reserved"/>); null when it has no limits, or none could be made ready.
    /// </param>
    public async ValueTask<CacheLookup> LookupAsync(
        string entryKey, bool fills, CancellationToken cancellationToken, Func<ValueTask<PreparedReservation?>>? reserving = null)
    {
        if (!_takesLimits)
        {
            reserving = null;
        }
        var deadline = _timeProvider.GetTimestamp() + (long)(_options.FillWaitSeconds * (double)_timeProvider.TimestampFrequency);
        var waited = false;
        while (true)
        {
            if (_local?.Get<CachedAnswer>(entryKey) is { } local)
            {
                return new CacheLookup(local, "local", waited, null);
            }
            var remaining = Remaining(deadline);
            if (remaining <= TimeSpan.Zero)
            {
                return new CacheLookup(null, null, waited, null);
            }
            if (_flights.TryGetValue(entryKey, out var flight))
            {
                // Another request on this replica is already finding this entry: share its result.
                var (shared, outOfTime) = await ShareAsync(flight, remaining, cancellationToken);
                if (flight.Filled && !waited)
                {
                    _metrics.FillWaited();
                }
                waited |= flight.Filled;
                if (shared is not null)
                {
                    return new CacheLookup(shared, "shared", waited, null);
                }
                if (outOfTime)
                {
                    return new CacheLookup(null, null, waited, null);
                }
                continue; // its fill failed: look again, and perhaps take it over
            }
            if (!fills)
            {
                return await ReadAsync(entryKey, waited);
            }
            var mine = new Flight(entryKey);
            if (_flights.TryAdd(entryKey, mine))
            {
                return await LeadFlightAsync(mine, deadline, waited, reserving, cancellationToken);
            }
        }
    }

    /// <summary>Waits for the result of a flight another request of this replica leads; out of time when the wait ended first.</summary>
    private async Task<(CachedAnswer? Shared, bool OutOfTime)> ShareAsync(Flight flight, TimeSpan remaining, CancellationToken cancellationToken)
    {
        try
        {
            using var waiting = WaitToken(cancellationToken);
            return (await flight.Result.WaitAsync(remaining, _timeProvider, waiting.Token), false);
        }
        catch (Exception exception) when (exception is TimeoutException || DrainEnded(exception, cancellationToken))
        {
            return (null, true);
        }
    }

    /// <summary>Leads the flight: its result is shared with the requests that join it, unless the leader goes on to fill the entry.</summary>
    private async Task<CacheLookup> LeadFlightAsync(
        Flight flight, long deadline, bool waited, Func<ValueTask<PreparedReservation?>>? reserving, CancellationToken cancellationToken)
    {
        try
        {
            var lookup = await LeadAsync(flight, deadline, waited, reserving, cancellationToken);
            if (lookup.Fill is null)
            {
                Finish(flight, lookup.Hit);
            }
            return lookup;
        }
        catch
        {
            Finish(flight, null);
            throw;
        }
    }

    /// <summary>The Redis side of a lookup, for the one request of this replica that leads it.</summary>
    private async Task<CacheLookup> LeadAsync(
        Flight flight, long deadline, bool waited, Func<ValueTask<PreparedReservation?>>? reserving, CancellationToken cancellationToken)
    {
        var token = Guid.NewGuid().ToString("N");
        var keys = flight.Keys;
        while (true)
        {
            // Registered before the read, so a fill announced between the read and the wait is not missed.
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _fillSignals[flight.EntryKey] = signal;
            try
            {
                var reservation = reserving is null ? null : await reserving();
                if (await EvaluateLookupAsync(keys, token, reservation) is not { } result)
                {
                    return new CacheLookup(null, null, waited, null);
                }
                switch ((int)result[0])
                {
                    case 2 when reservation is not null:
                        var reserved = (RedisResult[])result[1]!;
                        flight.Filled = (int)reserved[0] == 0;
                        return new CacheLookup(null, null, waited, flight.Filled ? new CacheFill(this, flight, token) : null) { Reserved = (reservation, reserved) };
                    case 1 when CachedAnswer.Deserialize((byte[])result[1]!) is { } answer:
                        RememberLocally(flight.EntryKey, answer, TimeSpan.FromMilliseconds((long)result[2]));
                        return new CacheLookup(answer, "shared", waited, null);
                    case 1:
                        flight.Filled = true;
                        return new CacheLookup(null, null, waited, new CacheFill(this, flight, token: null));
                    case 2:
                        flight.Filled = true;
                        return new CacheLookup(null, null, waited, new CacheFill(this, flight, token));
                }
                // Another request (here or on another replica) is filling it: wait for its word, or its lease to run out.
                flight.Filled = true;
                if (!waited)
                {
                    waited = true;
                    _metrics.FillWaited();
                }
                await EnsureSubscribedAsync();
                var leaseLeft = TimeSpan.FromMilliseconds(Math.Max(10, (long)result[1] + 10));
                var wait = Min(Min(leaseLeft, MaxPoll), Remaining(deadline));
                if (wait <= TimeSpan.Zero)
                {
                    return new CacheLookup(null, null, waited, null);
                }
                if (!await WaitForFillAsync(signal, wait, cancellationToken))
                {
                    return new CacheLookup(null, null, waited, null);
                }
            }
            finally
            {
                _fillSignals.TryRemove(new KeyValuePair<string, TaskCompletionSource>(flight.EntryKey, signal));
            }
        }
    }

    /// <summary>The lookup script's result; null, logged, when Redis cannot answer (the cache is an optimisation: the request goes upstream).</summary>
    private async Task<RedisResult[]?> EvaluateLookupAsync(RedisKey[] keys, string token, PreparedReservation? reservation)
    {
        try
        {
            if (reservation is null)
            {
                return (RedisResult[])(await _redis.GetDatabase().ScriptEvaluateAsync(LookupScript, keys, [token, _options.FillLeaseSeconds * 1000L, 1]))!;
            }
            return (RedisResult[])(await _redis.GetDatabase().ScriptEvaluateAsync(LookupAndReserveScript,
                [.. keys, .. reservation.Keys.Keys], [token, _options.FillLeaseSeconds * 1000L, .. reservation.Arguments]))!;
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            Log.CacheUnavailable(_logger, exception);
            return null;
        }
    }

    /// <summary>Waits for word of a fill, or until <paramref name="wait"/> ends; false when a shutdown's drain ended it.</summary>
    private async Task<bool> WaitForFillAsync(TaskCompletionSource signal, TimeSpan wait, CancellationToken cancellationToken)
    {
        try
        {
            using var waiting = WaitToken(cancellationToken);
            await signal.Task.WaitAsync(wait, _timeProvider, waiting.Token);
        }
        catch (TimeoutException)
        {
        }
        catch (OperationCanceledException exception) when (DrainEnded(exception, cancellationToken))
        {
            return false;
        }
        return true;
    }

    /// <summary>
    /// A wait for another request's fill ends when the client leaves, and also when a shutdown's drain
    /// runs out: the fill may be another replica's and outlast this one. The request then goes on
    /// without an answer and is told <c>shutting_down</c> (503, <c>Retry-After</c>) like any other still
    /// waiting then, instead of being cut off by the host with no answer at all.
    /// </summary>
    private CancellationTokenSource WaitToken(CancellationToken cancellationToken) =>
        CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _drain.Deadline);

    private bool DrainEnded(Exception exception, CancellationToken cancellationToken) =>
        exception is OperationCanceledException && _drain.Deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested;

    /// <summary>A read of the shared level alone, for a request that will not store its answer.</summary>
    private async Task<CacheLookup> ReadAsync(string entryKey, bool waited)
    {
        try
        {
            var result = (RedisResult[])(await _redis.GetDatabase().ScriptEvaluateAsync(LookupScript, [entryKey, LeaseKey(entryKey), WaitingKey(entryKey)], ["", 0, 0]))!;
            if ((int)result[0] == 1 && CachedAnswer.Deserialize((byte[])result[1]!) is { } answer)
            {
                RememberLocally(entryKey, answer, TimeSpan.FromMilliseconds((long)result[2]));
                return new CacheLookup(answer, "shared", waited, null);
            }
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            Log.CacheUnavailable(_logger, exception);
        }
        return new CacheLookup(null, null, waited, null);
    }

    /// <summary>An entry that this request may write without having led a lookup (it skipped the read: <c>no-cache</c>).</summary>
    public CacheFill WriteOnly(string entryKey) => new(this, new Flight(entryKey), token: null);

    /// <summary>Whether <see cref="StoreAsync"/> can take a request's settlement into its own script (one Redis node).</summary>
    public bool SettlesInStore => _takesLimits;

    internal async Task StoreAsync(Flight flight, CacheFill fill, CachedAnswer answer, TimeSpan ttl, Settlement? settlement)
    {
        _filling.TryRemove(fill, out _);
        var token = fill.Token;
        // Shortened by a random share, so entries written together are not refilled together.
        var jittered = ttl * (1 - _options.TtlJitter * _random.NextDouble());
        var milliseconds = Math.Max(1, (long)jittered.TotalMilliseconds);
        try
        {
            RedisValue[] store = [answer.Serialize(), milliseconds, token ?? ""];
            var waited = (long)await (settlement is { } settling
                ? StoreAndSettleAsync(settling, [.. flight.Keys, .. settling.Keys], [.. store, .. settling.Arguments])
                : _redis.GetDatabase().ScriptEvaluateAsync(StoreScript, flight.Keys, store));
            // Not kept in memory yet: an entry enters this replica's memory when it is read again (from
            // Redis), since most answers are never asked for twice. Keeping each fill for a minute moved
            // every answer into the GC's oldest generation and made the miss path pay for gen-2 collections.
            await AnnounceAsync(flight.EntryKey, toOtherReplicas: waited == 1);
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            Log.CacheStoreFailed(_logger, exception);
        }
        Finish(flight, answer);
    }

    /// <summary>The store and the settlement in one script; a failure of both is the settlement's too (logged as such).</summary>
    private async Task<RedisResult> StoreAndSettleAsync(Settlement settlement, RedisKey[] keys, RedisValue[] arguments)
    {
        try
        {
            return await _redis.GetDatabase().ScriptEvaluateAsync(StoreAndSettleScript, keys, arguments);
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            settlement.Lease.SettleFailed(exception);
            throw;
        }
    }

    /// <summary>Gives up a fill: frees the lease at once so a waiting request takes over without waiting for it to expire.</summary>
    internal async Task ReleaseAsync(Flight flight, CacheFill fill)
    {
        _filling.TryRemove(fill, out _);
        var token = fill.Token;
        Finish(flight, null);
        if (token is null)
        {
            return;
        }
        try
        {
            var waited = (long)await _redis.GetDatabase().ScriptEvaluateAsync(ReleaseScript, [LeaseKey(flight.EntryKey), WaitingKey(flight.EntryKey)], [token]);
            await AnnounceAsync(flight.EntryKey, toOtherReplicas: waited == 1);
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            Log.CacheStoreFailed(_logger, exception);
        }
    }

    /// <summary>A fill whose lease this replica holds from now until it stores or gives up.</summary>
    internal void Filling(CacheFill fill) => _filling[fill] = 0;

    /// <summary>
    /// Keeps the leases of this replica's live fillers from running out: every third of a lease, one
    /// pipelined renewal per fill in progress. One loop for the replica, not a
    /// timer per fill: most answers arrive well within a lease, and a timer per request (and the
    /// exception its cancellation threw) cost a tenth of the Api's CPU on the miss path.
    /// </summary>
    private async Task RenewLeasesAsync(CancellationToken stopping)
    {
        var interval = TimeSpan.FromSeconds(_options.FillLeaseSeconds / 3.0);
        using var timer = new PeriodicTimer(interval, _timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                var database = _redis.GetDatabase();
                var renewals = new List<Task>();
                // Every fill alive at a tick, however young: a lease is then never older than one interval
                // when renewed, leaving two thirds of it as margin for a slow tick on a busy machine.
                foreach (var fill in _filling.Keys)
                {
                    renewals.Add(database.ScriptEvaluateAsync(RenewScript, [LeaseKey(fill.EntryKey)], [fill.Token, _options.FillLeaseSeconds * 1000L]));
                }
                try
                {
                    await Task.WhenAll(renewals);
                }
                catch (Exception exception) when (RedisFailure.Is(exception))
                {
                    // Redis is away: the leases may run out, and a waiter elsewhere may fill too; harmless.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Wakes the requests waiting for an entry: on this replica at once, on the others through Redis —
    /// only when one of them marked that it waits, so the usual fill nobody waited for costs no publish.
    /// </summary>
    private Task AnnounceAsync(string entryKey, bool toOtherReplicas)
    {
        Signal(entryKey);
        return toOtherReplicas ? _redis.GetSubscriber().PublishAsync(FillsChannel, entryKey, CommandFlags.FireAndForget) : Task.CompletedTask;
    }

    /// <summary>
    /// Deletes the stored answers of one tenant, or of every tenant (<paramref name="scope"/> null), and
    /// empties every replica's memory level. For when a model group's deployments change under the same
    /// name and its old answers should not be served. The number of keys deleted.
    /// </summary>
    public async Task<long> PurgeAsync(string? scope)
    {
        var pattern = ScopePattern(scope);
        var database = _redis.GetDatabase();
        long deleted = 0;
        // Every primary's keys (a cluster's are spread over its shards), each deleted by its own DEL,
        // pipelined a batch at a time: one DEL of many keys is refused on a cluster unless they share a slot.
        foreach (var server in _redis.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            var batch = new List<Task<bool>>(PurgeBatch);
            await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: PurgeBatch))
            {
                batch.Add(database.KeyDeleteAsync(key));
                if (batch.Count == PurgeBatch)
                {
                    deleted += (await Task.WhenAll(batch)).Count(d => d);
                    batch.Clear();
                }
            }
            deleted += (await Task.WhenAll(batch)).Count(d => d);
        }
        _local?.Clear();
        await _redis.GetSubscriber().PublishAsync(FillsChannel, PurgeMessage);
        return deleted;
    }

    private const int PurgeBatch = 500;

    private void Signal(string entryKey)
    {
        if (entryKey == PurgeMessage)
        {
            _local?.Clear();
            return;
        }
        if (_fillSignals.TryGetValue(entryKey, out var signal))
        {
            signal.TrySetResult();
        }
    }

    /// <summary>Subscribes to <see cref="FillsChannel"/> once (again, if an earlier attempt failed while Redis was away).</summary>
    private async Task EnsureSubscribedAsync()
    {
        Task subscription;
        lock (_subscribing)
        {
            if (_subscription is null || _subscription.IsFaulted || _subscription.IsCanceled)
            {
                _subscription = _redis.GetSubscriber().SubscribeAsync(FillsChannel, (_, message) => Signal(message!));
            }
            subscription = _subscription;
        }
        try
        {
            await subscription;
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            // Waiters still poll the entry and its lease every second.
        }
    }

    private void RememberLocally(string entryKey, CachedAnswer answer, TimeSpan timeLeft)
    {
        if (_local is null || timeLeft <= TimeSpan.Zero)
        {
            return;
        }
        _local.Set(entryKey, answer, new MemoryCacheEntryOptions
        {
            AbsoluteExpirationRelativeToNow = Min(timeLeft, TimeSpan.FromSeconds(_options.LocalTtlSeconds)),
            Size = Math.Max(1, answer.Body.Length),
        });
    }

    private void Finish(Flight flight, CachedAnswer? answer)
    {
        _flights.TryRemove(new KeyValuePair<string, Flight>(flight.EntryKey, flight));
        flight.Complete(answer);
    }

    private TimeSpan Remaining(long deadline) =>
        deadline <= _timeProvider.GetTimestamp() ? TimeSpan.Zero : _timeProvider.GetElapsedTime(_timeProvider.GetTimestamp(), deadline);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static string LeaseKey(string entryKey) => entryKey + ":fill";

    private static string WaitingKey(string entryKey) => entryKey + ":waiting";

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
        _local?.Dispose();
    }

    /// <summary>One replica's search for one entry, which its other identical requests share.</summary>
    internal sealed class Flight(string entryKey)
    {
        private readonly TaskCompletionSource<CachedAnswer?> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string EntryKey { get; } = entryKey;

        /// <summary>The entry's key, its fill lease's and its "someone waits" mark's, as the scripts take them: made once per flight.</summary>
        public RedisKey[] Keys => _keys ??= [EntryKey, LeaseKey(EntryKey), WaitingKey(EntryKey)];

        private RedisKey[]? _keys;

        /// <summary>Whether the entry had to be filled (here or elsewhere) rather than found: those who shared it waited for a fill.</summary>
        public bool Filled { get; set; }

        /// <summary>The entry, or null when none came of it (the fill failed: look again).</summary>
        public Task<CachedAnswer?> Result => _result.Task;

        public void Complete(CachedAnswer? answer) => _result.TrySetResult(answer);
    }
}

/// <summary>The outcome of a lookup: a hit, or the right (and duty) to fill the entry, or neither.</summary>
/// <param name="Level"><c>local</c> (this replica's memory) or <c>shared</c> (Redis, or another request's fill).</param>
/// <param name="Waited">Whether the request waited for another's fill.</param>
public sealed record CacheLookup(CachedAnswer? Hit, string? Level, bool Waited, CacheFill? Fill)
{
    /// <summary>The request's reservation and the reserve script's result, when the lookup took it (<see cref="RequestLimiter.Conclude"/> reads it).</summary>
    public (PreparedReservation Prepared, RedisResult[] Result)? Reserved { get; init; }
}
