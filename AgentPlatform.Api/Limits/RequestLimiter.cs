using System.Globalization;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.ServiceDefaults.OpenAI;
using StackExchange.Redis;

namespace AgentPlatform.Api.Limits;

/// <summary>
/// Requests per minute and concurrent requests, for a key and its tenant together, in one atomic Redis
/// script per request (and one command after, to end the request's concurrency lease) — exact across
/// any number of Api replicas.
/// </summary>
/// <remarks>
/// Requests per minute use a sliding log (a sorted set of the last minute's request times) rather than
/// GCRA or a fixed window: it is the only one of the three that lets exactly N requests through in any
/// 60 seconds — GCRA refills during a burst and lets a few more through, a fixed window twice as many
/// across its boundary — and its cost, O(log N) per request for a limit of N per minute, is small for
/// the limits keys carry. The oldest entry also gives the exact <c>Retry-After</c>. Concurrency is a
/// sorted set of leases scored by their expiry, so the slot of a replica that died comes back by itself.
/// </remarks>
public sealed class RequestLimiter(IConnectionMultiplexer redis, TimeProvider timeProvider, ILogger<RequestLimiter> logger)
{
    /// <summary>A lease outlives any request (the Router's total time is 10 minutes); it is ended explicitly before.</summary>
    private static readonly TimeSpan LeaseLifetime = TimeSpan.FromMinutes(15);

    private const string ReserveScript = """
        local now = tonumber(ARGV[1])
        local member = ARGV[2]
        local lease_until = now + tonumber(ARGV[3])
        local window = 60000
        -- per limit: KEYS[i*2-1] requests log, KEYS[i*2] leases; ARGV[2+i*2] rpm, ARGV[3+i*2] max concurrent (0: none)
        local results = {}
        for i = 1, 2 do
          local log, leases = KEYS[i * 2 - 1], KEYS[i * 2]
          local rpm, concurrent = tonumber(ARGV[2 + i * 2]), tonumber(ARGV[3 + i * 2])
          local used, reset = 0, 0
          if rpm > 0 then
            redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
            used = redis.call('ZCARD', log)
            local oldest = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
            if oldest[2] then reset = tonumber(oldest[2]) + window - now end
            if used >= rpm then return {i * 2 - 1, reset, used, reset} end
          end
          if concurrent > 0 then
            redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
            if redis.call('ZCARD', leases) >= concurrent then return {i * 2, 1000, used, reset} end
          end
          results[i * 2 - 1] = used
          results[i * 2] = reset
        end
        for i = 1, 2 do
          if tonumber(ARGV[2 + i * 2]) > 0 then
            redis.call('ZADD', KEYS[i * 2 - 1], now, member)
            redis.call('PEXPIRE', KEYS[i * 2 - 1], window)
          end
          if tonumber(ARGV[3 + i * 2]) > 0 then
            redis.call('ZADD', KEYS[i * 2], lease_until, member)
            redis.call('PEXPIRE', KEYS[i * 2], tonumber(ARGV[3]))
          end
        end
        return {0, 0, results[1], results[2], results[3], results[4]}
        """;

    /// <summary>
    /// Takes a request out of the key's and tenant's limits. Null (with the 429 written, naming the
    /// limit) when one of them refuses; otherwise a lease to dispose when the request ends. The
    /// <c>x-ratelimit-*-requests</c> headers are set either way.
    /// </summary>
    public async ValueTask<RequestLease?> AcquireAsync(HttpContext context, ClientIdentity client)
    {
        var key = client.Key;
        var tenant = client.Tenant;
        if (key is null || tenant is null || (key.Rpm is null && key.MaxConcurrent is null && tenant.Rpm is null && tenant.MaxConcurrent is null))
        {
            return RequestLease.None;
        }
        var member = Guid.NewGuid().ToString("N");
        RedisKey[] keys = [$"agentplatform:limits:key:{key.Id}:requests", $"agentplatform:limits:key:{key.Id}:leases",
            $"agentplatform:limits:tenant:{tenant.Id}:requests", $"agentplatform:limits:tenant:{tenant.Id}:leases"];
        RedisResult[] result;
        try
        {
            result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(ReserveScript, keys,
            [
                timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), member, (long)LeaseLifetime.TotalMilliseconds,
                key.Rpm ?? 0, key.MaxConcurrent ?? 0, tenant.Rpm ?? 0, tenant.MaxConcurrent ?? 0,
            ]))!;
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // Limits cannot be checked: refuse rather than let a limited key through unlimited.
            Log.LimitsUnavailable(logger, exception);
            await OpenAIError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable,
                "Rate limits cannot be checked right now; try again shortly.", OpenAIError.Server, "limits_unavailable");
            return null;
        }

        var refused = (int)result[0];
        var headers = context.Response.Headers;
        if (refused == 0)
        {
            SetRequestHeaders(headers, key.Rpm, (long)result[2], (long)result[3], tenant.Rpm, (long)result[4], (long)result[5], reserved: 1);
            return new RequestLease(redis, client.MaxConcurrentLimited ? keys : null, member);
        }

        var waitMs = (long)result[1];
        var (owner, limit) = refused switch
        {
            1 => ($"key '{key.Name}'", $"{key.Rpm} requests per minute"),
            2 => ($"key '{key.Name}'", $"{key.MaxConcurrent} concurrent requests"),
            3 => ($"tenant '{tenant.Name}'", $"{tenant.Rpm} requests per minute"),
            _ => ($"tenant '{tenant.Name}'", $"{tenant.MaxConcurrent} concurrent requests"),
        };
        if (refused is 1 or 3)
        {
            var rpm = refused == 1 ? key.Rpm!.Value : tenant.Rpm!.Value;
            headers["x-ratelimit-limit-requests"] = rpm.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-requests"] = "0";
            headers["x-ratelimit-reset-requests"] = Duration(waitMs);
        }
        headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(waitMs / 1000.0)).ToString(CultureInfo.InvariantCulture);
        await OpenAIError.WriteAsync(context, StatusCodes.Status429TooManyRequests,
            $"Rate limit reached for {owner}: {limit}. Try again in {Duration(waitMs)}.", OpenAIError.RateLimit, "rate_limit_exceeded");
        return null;
    }

    /// <summary>OpenAI's headers for the tighter of the key's and the tenant's request limits.</summary>
    private static void SetRequestHeaders(IHeaderDictionary headers, int? keyRpm, long keyUsed, long keyResetMs, int? tenantRpm, long tenantUsed, long tenantResetMs, int reserved)
    {
        var keyRemaining = keyRpm is { } k ? k - keyUsed - reserved : long.MaxValue;
        var tenantRemaining = tenantRpm is { } t ? t - tenantUsed - reserved : long.MaxValue;
        if (keyRemaining == long.MaxValue && tenantRemaining == long.MaxValue)
        {
            return;
        }
        var useKey = keyRemaining <= tenantRemaining;
        headers["x-ratelimit-limit-requests"] = (useKey ? keyRpm : tenantRpm)!.Value.ToString(CultureInfo.InvariantCulture);
        headers["x-ratelimit-remaining-requests"] = Math.Max(0, useKey ? keyRemaining : tenantRemaining).ToString(CultureInfo.InvariantCulture);
        var reset = useKey ? keyResetMs : tenantResetMs;
        headers["x-ratelimit-reset-requests"] = Duration(reset > 0 ? reset : 60_000);
    }

    /// <summary>OpenAI's reset format: <c>1s</c>, <c>6m0s</c>, <c>250ms</c>.</summary>
    internal static string Duration(long milliseconds)
    {
        if (milliseconds < 1000)
        {
            return $"{Math.Max(0, milliseconds)}ms";
        }
        var time = TimeSpan.FromMilliseconds(milliseconds);
        return time.TotalMinutes >= 1
            ? $"{(int)time.TotalMinutes}m{time.Seconds}s"
            : string.Create(CultureInfo.InvariantCulture, $"{time.TotalSeconds:0.###}s");
    }
}

/// <summary>A request's place in its key's and tenant's concurrency limits, given back when disposed.</summary>
public sealed class RequestLease(IConnectionMultiplexer? redis, RedisKey[]? keys, string member) : IAsyncDisposable
{
    public static readonly RequestLease None = new(null, null, "");

    public async ValueTask DisposeAsync()
    {
        if (redis is null || keys is null)
        {
            return;
        }
        var batch = redis.GetDatabase().CreateBatch();
        var key = batch.SortedSetRemoveAsync(keys[1], member, CommandFlags.FireAndForget);
        var tenant = batch.SortedSetRemoveAsync(keys[3], member, CommandFlags.FireAndForget);
        batch.Execute();
        await Task.WhenAll(key, tenant);
    }
}
