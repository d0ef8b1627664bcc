namespace AgentPlatform.Router.Resilience;

/// <summary>
/// Two counts (e.g. successes and failures) over a sliding window, kept in ten buckets so old events
/// fall out a tenth of the window at a time. Not thread-safe: the owner locks.
/// </summary>
internal sealed class RollingCounts
{
    private const int BucketCount = 10;

    private readonly long _bucketTicks;
    private readonly long[] _bucketStart = new long[BucketCount];
    private readonly long[] _first = new long[BucketCount];
    private readonly long[] _second = new long[BucketCount];

    public RollingCounts(TimeSpan window)
    {
        _bucketTicks = Math.Max(1, window.Ticks / BucketCount);
        Array.Fill(_bucketStart, long.MinValue);
    }

    public void Add(long nowTicks, long first, long second)
    {
        var start = nowTicks - nowTicks % _bucketTicks;
        var index = (int)(start / _bucketTicks % BucketCount);
        if (_bucketStart[index] != start)
        {
            _bucketStart[index] = start;
            _first[index] = 0;
            _second[index] = 0;
        }
        _first[index] += first;
        _second[index] += second;
    }

    public (long First, long Second) Sum(long nowTicks)
    {
        var oldest = nowTicks - nowTicks % _bucketTicks - (BucketCount - 1) * _bucketTicks;
        long first = 0, second = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            if (_bucketStart[i] >= oldest)
            {
                first += _first[i];
                second += _second[i];
            }
        }
        return (first, second);
    }

    public void Clear() => Array.Fill(_bucketStart, long.MinValue);
}
