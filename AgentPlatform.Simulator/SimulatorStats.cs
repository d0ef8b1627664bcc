using System.Collections.Concurrent;

namespace AgentPlatform.Simulator;

/// <summary>Counters that tests and benchmarks read through <c>GET /sim/stats</c>.</summary>
public sealed class SimulatorStats
{
    private long _requests;
    private long _streams;
    private long _completed;
    private long _inFlight;
    private long _promptTokens;
    private long _completionTokens;
    private readonly ConcurrentDictionary<string, long> _faults = new();
    /// <summary>When the last <see cref="RecentArrivals"/> requests arrived, so tests can check spacing (e.g. Retry-After honoured).</summary>
    private readonly ConcurrentQueue<DateTimeOffset> _arrivals = new();

    private const int RecentArrivals = 100;

    /// <summary>Requests received since the start (or the last reset).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    public void RequestStarted(bool stream, DateTimeOffset arrival)
    {
        _arrivals.Enqueue(arrival);
        while (_arrivals.Count > RecentArrivals)
        {
            _arrivals.TryDequeue(out _);
        }
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref _inFlight);
        if (stream)
        {
            Interlocked.Increment(ref _streams);
        }
    }

    /// <param name="promptTokens">With <paramref name="completionTokens"/>: the usage the answer reported, when it completed.</param>
    public void RequestEnded(bool completed, int promptTokens = 0, int completionTokens = 0)
    {
        Interlocked.Decrement(ref _inFlight);
        if (completed)
        {
            Interlocked.Increment(ref _completed);
            Interlocked.Add(ref _promptTokens, promptTokens);
            Interlocked.Add(ref _completionTokens, completionTokens);
        }
    }

    public void FaultInjected(string kind) => _faults.AddOrUpdate(kind, 1, static (_, n) => n + 1);

    public object Snapshot() => new
    {
        requests = Interlocked.Read(ref _requests),
        streams = Interlocked.Read(ref _streams),
        completed = Interlocked.Read(ref _completed),
        inFlight = Interlocked.Read(ref _inFlight),
        promptTokens = Interlocked.Read(ref _promptTokens),
        completionTokens = Interlocked.Read(ref _completionTokens),
        faults = _faults.ToDictionary(),
        arrivals = _arrivals.ToArray(),
    };

    public void Reset()
    {
        Interlocked.Exchange(ref _requests, 0);
        Interlocked.Exchange(ref _streams, 0);
        Interlocked.Exchange(ref _completed, 0);
        Interlocked.Exchange(ref _promptTokens, 0);
        Interlocked.Exchange(ref _completionTokens, 0);
        _faults.Clear();
        _arrivals.Clear();
    }
}
