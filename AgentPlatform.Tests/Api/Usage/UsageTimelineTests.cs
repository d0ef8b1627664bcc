using AgentPlatform.Api.Usage;

namespace AgentPlatform.Tests.Api.Usage;

/// <summary>The overview's percentiles, read back from the ledger's log-scale histogram buckets.</summary>
public sealed class UsageTimelineTests
{
    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(0.1, 0)]
    [InlineData(1.0, 8)] // a tenfold is 8 buckets
    [InlineData(100.0, 24)]
    [InlineData(1e12, 63)] // clamped
    public void A_duration_lands_in_its_bucket(double ms, int bucket) => Assert.Equal(bucket, UsageTimeline.Bucket(ms));

    [Fact]
    public void Percentiles_of_known_durations_come_back_within_the_buckets_resolution()
    {
        var durations = Enumerable.Range(1, 1000).Select(i => i * 0.5).ToList(); // 0.5 … 500 ms: p50 250, p99 495
        var buckets = durations.GroupBy(UsageTimeline.Bucket).ToDictionary(g => g.Key, g => (long)g.Count());

        Assert.InRange(UsageTimeline.Percentile(buckets, 0.5)!.Value, 250 / 1.34, 250 * 1.34);
        Assert.InRange(UsageTimeline.Percentile(buckets, 0.99)!.Value, 495 / 1.34, 495 * 1.34);
        Assert.True(UsageTimeline.Percentile(buckets, 0.5) < UsageTimeline.Percentile(buckets, 0.99));
    }

    [Fact]
    public void No_duration_has_no_percentile() => Assert.Null(UsageTimeline.Percentile(new Dictionary<int, long>(), 0.5));
}
