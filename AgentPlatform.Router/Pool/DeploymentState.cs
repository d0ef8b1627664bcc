using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Resilience;

namespace AgentPlatform.Router.Pool;

/// <summary>
/// What this Router replica sees of a deployment right now: requests in flight, a peak-EWMA of the
/// time it takes to start answering, and until when it asked to be left alone (its <c>Retry-After</c>).
/// Read by the strategies on every pick, so lock-free.
/// </summary>
/// <param name="latencyDecay">How fast old latency samples fade: after this long a sample weighs 1/e.</param>
public sealed class DeploymentState(TimeProvider timeProvider, TimeSpan latencyDecay)
{
    public DeploymentState(TimeProvider timeProvider) : this(timeProvider, TimeSpan.FromSeconds(RouterOptions.DefaultLatencyDecaySeconds))
    {
    }

    public TimeSpan LatencyDecay { get; } = latencyDecay;

    private readonly Lock _latencyLock = new();
    private long _inFlight;
    private double _latencyEwmaMs;
    private long _lastSampleTimestamp;
    private long _coolDownUntilTicks;
    private readonly Lock _outcomesLock = new();
    /// <summary>First: failed attempts; second: attempts. Over the last minute.</summary>
    private readonly RollingCounts _outcomes = new(OutcomeWindow);
    private LastError? _lastError;

    /// <summary>The window <see cref="RecentOutcomes"/> counts over.</summary>
    public static readonly TimeSpan OutcomeWindow = TimeSpan.FromMinutes(1);

    public long InFlight => Interlocked.Read(ref _inFlight);

    /// <summary>Peak-EWMA of time to response headers, in ms, as of the last sample; 0 until the first.</summary>
    public double LatencyEwmaMs => Volatile.Read(ref _latencyEwmaMs);

    /// <summary>
    /// What the lowest-latency strategy weighs: the EWMA faded toward 0 by the time since its last sample
    /// (as Finagle's peak-EWMA does when it reads a cost). Without the fade, one slow answer would
    /// leave a deployment looking slow for good, as it would get no request to be measured again.
    /// </summary>
    public double LatencyCostMs
    {
        get
        {
            var last = Volatile.Read(ref _lastSampleTimestamp);
            var ewma = Volatile.Read(ref _latencyEwmaMs);
            if (last == 0)
            {
                return 0;
            }
            var idle = timeProvider.GetElapsedTime(last).TotalMilliseconds;
            return ewma * Math.Exp(-idle / LatencyDecay.TotalMilliseconds);
        }
    }

    /// <summary>Counts an attempt's outcome for the error rate; a failure becomes the last error.</summary>
    public void RecordOutcome(string? failure)
    {
        var now = timeProvider.GetUtcNow();
        lock (_outcomesLock)
        {
            _outcomes.Add(now.UtcTicks, failure is null ? 0 : 1, 1);
        }
        if (failure is not null)
        {
            Volatile.Write(ref _lastError, new LastError(failure, now));
        }
    }

    /// <summary>Attempts and the share that failed, over the last <see cref="OutcomeWindow"/>.</summary>
    public (long Attempts, double ErrorRate) RecentOutcomes()
    {
        lock (_outcomesLock)
        {
            var (failures, attempts) = _outcomes.Sum(timeProvider.GetUtcNow().UtcTicks);
            return (attempts, attempts == 0 ? 0 : (double)failures / attempts);
        }
    }

    public LastError? LatestError => Volatile.Read(ref _lastError);

    private CapacityView _capacity = new(0, 0);

    /// <summary>The theoretical arrival times (Unix ms) of the Rpm and Tpm limits, as Redis last answered this replica.</summary>
    public (double Requests, double Tokens) CapacityTats
    {
        get
        {
            var view = Volatile.Read(ref _capacity);
            return (view.RequestsTat, view.TokensTat);
        }
    }

    public void ObserveCapacity(double requestsTat, double tokensTat) => Volatile.Write(ref _capacity, new CapacityView(requestsTat, tokensTat));

    private sealed record CapacityView(double RequestsTat, double TokensTat);

    /// <summary>Until when (UTC ticks) the deployment asked not to be sent requests; 0 when it never did.</summary>
    public long CoolDownUntilTicks => Interlocked.Read(ref _coolDownUntilTicks);

    public bool IsCoolingDown(long nowTicks) => nowTicks < Interlocked.Read(ref _coolDownUntilTicks);

    /// <summary>Leaves the deployment alone until <paramref name="until"/>, unless an earlier answer asked for longer.</summary>
    public void CoolDown(DateTimeOffset until)
    {
        var ticks = until.UtcTicks;
        var current = Interlocked.Read(ref _coolDownUntilTicks);
        while (ticks > current)
        {
            var seen = Interlocked.CompareExchange(ref _coolDownUntilTicks, ticks, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }

    /// <summary>Counts a request in flight until the returned lease is disposed.</summary>
    public InFlightLease BeginRequest()
    {
        Interlocked.Increment(ref _inFlight);
        return new InFlightLease(this);
    }

    /// <summary>
    /// Peak-EWMA (as in Finagle and YARP): a sample above the average replaces it at once, so a
    /// deployment that slows down is avoided immediately; lower samples pull it down with a decay
    /// that depends on the time since the last sample, not on the request rate.
    /// </summary>
    public void RecordLatency(TimeSpan latency)
    {
        var sample = latency.TotalMilliseconds;
        var now = timeProvider.GetTimestamp();
        lock (_latencyLock)
        {
            var previous = _latencyEwmaMs;
            if (_lastSampleTimestamp == 0 || sample > previous)
            {
                Volatile.Write(ref _latencyEwmaMs, sample);
            }
            else
            {
                var elapsed = timeProvider.GetElapsedTime(_lastSampleTimestamp, now);
                var weight = Math.Exp(-elapsed.TotalMilliseconds / LatencyDecay.TotalMilliseconds);
                Volatile.Write(ref _latencyEwmaMs, previous * weight + sample * (1 - weight));
            }
            Volatile.Write(ref _lastSampleTimestamp, now);
        }
    }

    public sealed record LastError(string Message, DateTimeOffset At);

    public readonly struct InFlightLease(DeploymentState state) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref state._inFlight);
    }
}
