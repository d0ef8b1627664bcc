namespace AgentPlatform.Contracts.Telemetry;

/// <summary>
/// The deployments' recent attempts as every Router replica writes them to Redis and the Api's alert
/// rules read them: one hash per 10-second bucket, <c>agentplatform:stats:{bucket}</c>, whose fields are
/// <c>{group}|{deployment}|attempts</c>, <c>|errors</c> and <c>|ms{i}</c> — the count of attempts whose
/// time to answer fell in latency bucket <c>i</c> (upper bounds <see cref="LatencyBoundsMs"/>, then one
/// open bucket) — so error rates and percentiles add up across replicas.
/// </summary>
public static class DeploymentStatsKeys
{
    public const int BucketSeconds = 10;

    /// <summary>How long a bucket is kept: the longest window a rule may look at.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromHours(2);

    public static readonly double[] LatencyBoundsMs = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000];

    public static long Bucket(DateTimeOffset time) => time.ToUnixTimeSeconds() / BucketSeconds;

    public static string Key(long bucket) => $"agentplatform:stats:{bucket}";

    /// <summary>How a deployment is named in these hashes: <c>{group}|{deployment}</c>.</summary>
    public static string Subject(string group, string deployment) => $"{group}|{deployment}";

    /// <summary>A hash of <c>{group}|{deployment}</c> to when its breaker opened (Unix ms), for breakers not closed since (through their half-open probes).</summary>
    public const string BreakersOpenSinceKey = "agentplatform:router:breakers:open-since";

    /// <summary>The latency bucket of an attempt that took <paramref name="milliseconds"/>.</summary>
    public static int LatencyIndex(double milliseconds)
    {
        var index = Array.BinarySearch(LatencyBoundsMs, milliseconds);
        return index >= 0 ? index : ~index;
    }
}
