using System.Collections.Concurrent;
using AgentPlatform.Contracts.Telemetry;
using AgentPlatform.Redis;
using AgentPlatform.Router.Configuration;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AgentPlatform.Router.Telemetry;

/// <summary>
/// Counts each deployment's attempts, errors and latencies in memory and adds them to Redis every
/// <see cref="RouterOptions.StatsFlushSeconds"/> (<see cref="DeploymentStatsKeys"/>), where the Api's
/// alert rules read error rates and percentiles across every Router replica. A flush is one pipelined
/// batch of increments, whatever the traffic; the request path only increments counters.
/// </summary>
public sealed class DeploymentStats(IConnectionMultiplexer redis, IOptions<RouterOptions> options, TimeProvider timeProvider, ILogger<DeploymentStats> logger)
    : BackgroundService
{
    private readonly ConcurrentDictionary<(string Group, string Deployment), Counts> _counts = new();

    /// <param name="error">The deployment failed the attempt: it refused (429, 5xx) or broke (connection, timeout).</param>
    public void Record(string group, string deployment, bool error, TimeSpan elapsed)
    {
        var counts = _counts.GetOrAdd((group, deployment), static _ => new Counts()); // no allocation once counted
        Interlocked.Increment(ref counts.Attempts);
        if (error)
        {
            Interlocked.Increment(ref counts.Errors);
        }
        Interlocked.Increment(ref counts.Latency[DeploymentStatsKeys.LatencyIndex(elapsed.TotalMilliseconds)]);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.StatsFlushSeconds), timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await FlushAsync();
        }
    }

    private async Task FlushAsync()
    {
        var key = (RedisKey)DeploymentStatsKeys.Key(DeploymentStatsKeys.Bucket(timeProvider.GetUtcNow()));
        var batch = redis.GetDatabase().CreateBatch();
        var writes = new List<Task>();
        foreach (var ((group, deployment), counts) in _counts)
        {
            var subject = DeploymentStatsKeys.Subject(group, deployment);
            // Taken and zeroed one by one: an attempt counted meanwhile goes into the next flush.
            var attempts = Interlocked.Exchange(ref counts.Attempts, 0);
            if (attempts == 0)
            {
                continue;
            }
            writes.Add(batch.HashIncrementAsync(key, $"{subject}|attempts", attempts));
            if (Interlocked.Exchange(ref counts.Errors, 0) is var errors and > 0)
            {
                writes.Add(batch.HashIncrementAsync(key, $"{subject}|errors", errors));
            }
            for (var i = 0; i < counts.Latency.Length; i++)
            {
                if (Interlocked.Exchange(ref counts.Latency[i], 0) is var inBucket and > 0)
                {
                    writes.Add(batch.HashIncrementAsync(key, $"{subject}|ms{i}", inBucket));
                }
            }
        }
        if (writes.Count == 0)
        {
            return;
        }
        writes.Add(batch.KeyExpireAsync(key, DeploymentStatsKeys.Retention));
        try
        {
            batch.Execute();
            await Task.WhenAll(writes);
        }
        catch (Exception exception) when (RedisFailure.IsAnyButCancellation(exception))
        {
            // Statistics for alerting: a flush lost while Redis is away is not worth holding traffic for.
            Log.StatsFlushFailed(logger, exception);
        }
    }

    private sealed class Counts
    {
        public long Attempts;
        public long Errors;
        public readonly long[] Latency = new long[DeploymentStatsKeys.LatencyBoundsMs.Length + 1];
    }
}
