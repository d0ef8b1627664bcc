using System.Diagnostics.Metrics;
using System.Net;
using AgentPlatform.Redis;
using AgentPlatform.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentPlatform.Api.Access;

/// <summary>
/// Failed authentications per client address: counted (metric <c>agentplatform.auth.failures</c>,
/// never the usage ledger) and limited — an address that fails
/// <see cref="ApiOptions.MaxFailedAuthentications"/> times within
/// <see cref="ApiOptions.FailedAuthenticationWindowSeconds"/> is turned away with 429 and
/// <c>Retry-After</c> until its window ends.
/// </summary>
/// <remarks>
/// The count is kept in Redis, so it holds across replicas; only a failure touches it (one pipelined
/// round trip), never a request with a good key. Whether an address is turned away is decided from what
/// this replica learned from its own failures' counts: another replica learns of a blocked address at
/// that address's first failure there. The table of blocked addresses is bounded
/// (<see cref="MaxBlockedAddresses"/>), as are the Redis counters (each expires with its window).
/// </remarks>
public sealed class FailedAuthentications
{
    public const int MaxBlockedAddresses = 100_000;

    private const string CountScript = """
        local count = redis.call('INCR', KEYS[1])
        if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return { count, redis.call('PTTL', KEYS[1]) }
        """;

    private readonly IConnectionMultiplexer _redis;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<FailedAuthentications> _logger;
    private readonly int _limit;
    private readonly long _windowMs;
    private readonly BoundedExpirySet _blockedUntil = new(MaxBlockedAddresses);
    private readonly Counter<long> _failures;

    public FailedAuthentications(
        IConnectionMultiplexer redis, IOptions<ApiOptions> options, IMeterFactory meterFactory, TimeProvider timeProvider, ILogger<FailedAuthentications> logger)
    {
        _redis = redis;
        _timeProvider = timeProvider;
        _logger = logger;
        _limit = options.Value.MaxFailedAuthentications;
        _windowMs = options.Value.FailedAuthenticationWindowSeconds * 1000L;
        _failures = meterFactory.Create(PlatformTelemetry.Api).CreateCounter<long>("agentplatform.auth.failures", "{request}",
            "Requests refused for their credential (missing, wrong, revoked or expired key; too_many_failures for an address turned away), by code. They leave no usage record.");
    }

    /// <summary>How long <paramref name="context"/>'s address is still turned away; null when it is not.</summary>
    public TimeSpan? RetryAfter(HttpContext context)
    {
        if (_limit == 0 || _blockedUntil.IsEmpty || Address(context) is not { } address)
        {
            return null; // every request asks: no clock read while no address is turned away
        }
        var now = _timeProvider.GetUtcNow().UtcTicks;
        return _blockedUntil.TryGetUntil(address, now, out var until) ? TimeSpan.FromTicks(until - now) : null;
    }

    /// <summary>Counts a refused credential (<paramref name="code"/>: the error code the client got) against its address.</summary>
    public async ValueTask OnFailureAsync(HttpContext context, string code)
    {
        _failures.Add(1, new KeyValuePair<string, object?>("code", code));
        if (_limit == 0 || code == TooManyFailuresCode || Address(context) is not { } address)
        {
            return;
        }
        try
        {
            var result = (RedisResult[])(await _redis.GetDatabase().ScriptEvaluateAsync(CountScript, [CounterKey(address)], [_windowMs]))!;
            if ((long)result[0] >= _limit)
            {
                Block(address, Math.Max(1, (long)result[1]));
            }
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            // The refusal stands; only the count is lost.
            Log.FailedAuthenticationNotCounted(_logger, exception);
        }
    }

    public const string TooManyFailuresCode = "too_many_failed_authentications";

    private void Block(string address, long forMs)
    {
        var now = _timeProvider.GetUtcNow().UtcTicks;
        // Full of live blocks, it starts over: each address is blocked again at its next failure, whose count in Redis is still over the limit.
        _blockedUntil.Add(address, now + TimeSpan.FromMilliseconds(forMs).Ticks, now);
    }

    private static RedisKey CounterKey(string address) => $"agentplatform:authfail:{address}";

    /// <summary>The client's address (behind a proxy, what the forwarded-headers middleware made of it); an IPv6 client counts by its /64.</summary>
    private static string? Address(HttpContext context) => context.Connection.RemoteIpAddress switch
    {
        null => null,
        { IsIPv4MappedToIPv6: true } mapped => mapped.MapToIPv4().ToString(),
        { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } v6 => Prefix64(v6),
        var v4 => v4.ToString(),
    };

    /// <summary>One host may hold a whole /64 of addresses; counting each alone would let it walk around the limit.</summary>
    private static string Prefix64(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes).ToString() + "/64";
    }
}
