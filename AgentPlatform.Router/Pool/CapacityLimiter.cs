using AgentPlatform.Redis;
using StackExchange.Redis;

namespace AgentPlatform.Router.Pool;

/// <summary>
/// Keeps each deployment within its <c>Rpm</c> and <c>Tpm</c> across every Router replica: one atomic
/// Redis script per attempt reserves a request and its estimated tokens, or says how long until they
/// fit. Deployments without a capacity never reach Redis.
/// </summary>
/// <remarks>
/// GCRA (the generic cell rate algorithm) rather than fixed minute windows: a fixed window lets twice
/// the limit through across a window boundary, which is exactly the burst a provider answers with 429.
/// GCRA keeps one number per limit — the theoretical arrival time (TAT) — so the script is O(1), the
/// state is two keys per deployment, and the same number tells every replica how much is in use.
/// A minute's worth may arrive at once (burst), then it refills evenly.
/// </remarks>
public sealed class CapacityLimiter(IConnectionMultiplexer redis, TimeProvider timeProvider, ILogger<CapacityLimiter> logger)
{
    private const double WindowMs = 60_000;

    private const string ReserveScript = """
        local now = tonumber(ARGV[1])
        local function check(key, per_minute, cost)
          if per_minute <= 0 then return 0, now end
          local interval = 60000 / per_minute
          local tat = tonumber(redis.call('GET', key) or '0')
          if tat < now then tat = now end
          local new_tat = tat + interval * cost
          local wait = new_tat - 60000 - now
          if wait > 0 then return wait, tat end
          return 0, new_tat
        end
        local wait_r, tat_r = check(KEYS[1], tonumber(ARGV[2]), 1)
        local wait_t, tat_t = check(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
        if wait_r > 0 or wait_t > 0 then
          return {0, math.ceil(math.max(wait_r, wait_t)), tostring(tat_r), tostring(tat_t)}
        end
        if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], tostring(tat_r), 'PX', math.ceil(tat_r - now) + 1000) end
        if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[2], tostring(tat_t), 'PX', math.ceil(tat_t - now) + 1000) end
        return {1, 0, tostring(tat_r), tostring(tat_t)}
        """;

    private const string SettleScript = """
        local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
        local now = tonumber(ARGV[1])
        if tat <= now then return 0 end
        local new_tat = math.max(now, tat + tonumber(ARGV[2]))
        redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
        return 1
        """;

    /// <summary>
    /// Reserves one request and <paramref name="tokens"/> on the deployment. Null when reserved (or the
    /// deployment has no capacity set, or Redis cannot be reached: the provider's own 429 still
    /// protects it); otherwise how long until the reservation would fit.
    /// </summary>
    public async ValueTask<TimeSpan?> TryReserveAsync(Deployment deployment, int tokens)
    {
        if (!deployment.HasCapacityLimits)
        {
            return null;
        }
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        try
        {
            var result = (RedisResult[])(await redis.GetDatabase().ScriptEvaluateAsync(ReserveScript,
                [RequestsKey(deployment), TokensKey(deployment)],
                [now, deployment.Rpm ?? 0, deployment.Tpm ?? 0, Math.Max(1, tokens)]))!;
            deployment.State.ObserveCapacity(double.Parse((string)result[2]!, System.Globalization.CultureInfo.InvariantCulture),
                double.Parse((string)result[3]!, System.Globalization.CultureInfo.InvariantCulture));
            return (long)result[0] == 1 ? null : TimeSpan.FromMilliseconds((long)result[1]);
        }
        catch (Exception exception) when (RedisFailure.Is(exception))
        {
            Log.CapacityUnchecked(logger, deployment.Name, deployment.Group, exception);
            return null;
        }
    }

    /// <summary>Corrects a reservation's estimated tokens to what the answer really used (fire and forget).</summary>
    public void Settle(Deployment deployment, int estimatedTokens, long actualTokens)
    {
        if (deployment.Tpm is not { } tpm || actualTokens == Math.Max(1, estimatedTokens))
        {
            return;
        }
        var deltaMs = (actualTokens - Math.Max(1, estimatedTokens)) * (WindowMs / tpm);
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        _ = redis.GetDatabase().ScriptEvaluateAsync(SettleScript, [TokensKey(deployment)], [now, deltaMs], CommandFlags.FireAndForget);
    }

    // Both in the deployment's hash slot: the reserve script takes from the two together (docs/redis.md).
    internal static RedisKey RequestsKey(Deployment deployment) => $"agentplatform:{{capacity:{deployment.Group}/{deployment.Name}}}:requests";

    internal static RedisKey TokensKey(Deployment deployment) => $"agentplatform:{{capacity:{deployment.Group}/{deployment.Name}}}:tokens";
}
