using AgentPlatform.Router.Configuration;

namespace AgentPlatform.Router.Resilience;

public enum CircuitState
{
    /// <summary>Traffic flows; failures are counted.</summary>
    Closed,

    /// <summary>No traffic until the break ends.</summary>
    Open,

    /// <summary>The break has ended and one probe request is deciding whether to close or open again.</summary>
    HalfOpen,
}

/// <summary>A change of a breaker's state, seen here or adopted from another Router replica.</summary>
public readonly record struct CircuitTransition(
    CircuitState From, CircuitState To, DateTimeOffset OpenUntil, int Breaks, bool FromOtherReplica, string? Reason);

/// <summary>Hears every transition of every breaker: logs, metrics, and sharing with the other replicas.</summary>
public interface ICircuitBreakerListener
{
    void OnTransition(CircuitBreaker breaker, CircuitTransition transition);
}

/// <summary>
/// The circuit breaker of one deployment. It opens on a failure ratio over a sliding window (with a
/// minimum throughput) or on consecutive failures, half-opens when the break ends to let one probe
/// through, closes when the probe succeeds and opens again for twice as long when it fails.
/// <para>
/// A failure may be the request's own rather than the deployment's: the Router reports one it cannot
/// tell apart (the same 5xx from every deployment the request tried) with the client it came from, and
/// such suspect failures count only while they come from
/// <see cref="CircuitBreakerOptions.SuspectClients"/> distinct clients within the sampling window.
/// Until then they are ignored, like an abandoned call: a client alone cannot open a breaker.
/// </para>
/// </summary>
/// <remarks>
/// Modelled on Polly's advanced circuit breaker, but not built on it: the Router needs to read a
/// breaker's state when it picks a deployment (Polly's changes only when an execution passes through
/// it), to count consecutive failures besides the ratio, and to adopt a state another Router replica
/// decided through Redis — Polly keeps its state private to the process.
/// </remarks>
public sealed class CircuitBreaker
{
    private readonly CircuitBreakerOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ICircuitBreakerListener? _listener;
    private readonly Lock _lock = new();
    /// <summary>First: failures; second: attempts.</summary>
    private readonly RollingCounts _window;
    /// <summary>The latest distinct clients with a suspect failure, and when (UTC ticks); the oldest is replaced.</summary>
    private readonly (string Client, long Ticks)[] _suspects;
    private readonly long _windowTicks;
    private volatile CircuitState _state;
    private long _openUntilTicks;
    private int _consecutiveFailures;
    private int _breaks;
    private volatile bool _probeInFlight;

    public CircuitBreaker(string group, string deployment, CircuitBreakerOptions options, TimeProvider timeProvider, ICircuitBreakerListener? listener)
    {
        Group = group;
        Deployment = deployment;
        _options = options;
        _timeProvider = timeProvider;
        _listener = listener;
        _window = new RollingCounts(TimeSpan.FromSeconds(options.SamplingDurationSeconds));
        _windowTicks = TimeSpan.FromSeconds(options.SamplingDurationSeconds).Ticks;
        _suspects = new (string, long)[Math.Max(1, options.SuspectClients)];
    }

    public string Group { get; }

    public string Deployment { get; }

    public CircuitState State => _state;

    /// <summary>When the current break ends; meaningful while <see cref="State"/> is open.</summary>
    public DateTimeOffset OpenUntil => new(Interlocked.Read(ref _openUntilTicks), TimeSpan.Zero);

    /// <summary>Breaks in a row without closing in between; sets the length of the next.</summary>
    public int Breaks => Volatile.Read(ref _breaks);

    /// <summary>Whether a request may be sent now: closed, or open with the break over (it will probe), or half-open with no probe out.</summary>
    public bool IsAvailable(long nowTicks) => _state switch
    {
        CircuitState.Closed => true,
        CircuitState.Open => nowTicks >= Interlocked.Read(ref _openUntilTicks),
        _ => !_probeInFlight,
    };

    /// <summary>
    /// Claims the right to send one request. Always granted when closed; when the break is over the
    /// caller becomes the one probe. Every grant must end in exactly one of <see cref="OnSuccess"/>,
    /// <see cref="OnFailure"/> or <see cref="OnAbandoned"/>.
    /// </summary>
    public bool TryAcquire()
    {
        if (_state == CircuitState.Closed)
        {
            return true;
        }
        CircuitTransition? transition = null;
        lock (_lock)
        {
            var now = NowTicks;
            switch (_state)
            {
                case CircuitState.Closed:
                    return true;
                case CircuitState.Open when now < _openUntilTicks:
                case CircuitState.HalfOpen when _probeInFlight:
                    return false;
                case CircuitState.Open:
                    transition = Move(CircuitState.HalfOpen, fromOtherReplica: false, reason: null);
                    break;
            }
            _probeInFlight = true;
        }
        Notify(transition);
        return true;
    }

    public void OnSuccess()
    {
        CircuitTransition? transition = null;
        lock (_lock)
        {
            _consecutiveFailures = 0;
            if (_state == CircuitState.Closed)
            {
                _window.Add(NowTicks, 0, 1);
                return;
            }
            if (_state == CircuitState.HalfOpen)
            {
                transition = Close(fromOtherReplica: false);
            }
            // Open: a request sent before the breaker opened; the break stands.
        }
        Notify(transition);
    }

    /// <summary>The call failed.</summary>
    /// <param name="suspectedClient">
    /// Set when the failure may be the request's own (it failed alike everywhere it was tried): the
    /// client it came from, whose failures alone never count.
    /// </param>
    public void OnFailure(string reason, string? suspectedClient = null)
    {
        CircuitTransition? transition = null;
        lock (_lock)
        {
            var now = NowTicks;
            if (suspectedClient is not null && !CountsSuspect(suspectedClient, now))
            {
                _probeInFlight = false; // as if abandoned: the deployment's health is still unknown
                return;
            }
            if (_state == CircuitState.HalfOpen)
            {
                transition = Open(now, reason);
            }
            else if (_state == CircuitState.Closed)
            {
                _window.Add(now, 1, 1);
                _consecutiveFailures++;
                var (failures, attempts) = _window.Sum(now);
                if ((_options.ConsecutiveFailures > 0 && _consecutiveFailures >= _options.ConsecutiveFailures)
                    || (attempts >= _options.MinimumThroughput && failures >= _options.FailureRatio * attempts))
                {
                    transition = Open(now, reason);
                }
            }
        }
        Notify(transition);
    }

    /// <summary>The request ended without telling whether the deployment works (the client left); a probe may go again.</summary>
    public void OnAbandoned()
    {
        if (_state == CircuitState.HalfOpen)
        {
            _probeInFlight = false;
        }
    }

    /// <summary>Adopts a state another replica decided: an open breaker (if it ends later than ours) or a closed one.</summary>
    public void Adopt(CircuitState state, DateTimeOffset openUntil, int breaks)
    {
        CircuitTransition? transition = null;
        lock (_lock)
        {
            if (state == CircuitState.Open && openUntil.UtcTicks > NowTicks
                && (_state != CircuitState.Open || openUntil.UtcTicks > _openUntilTicks))
            {
                _breaks = Math.Max(_breaks, breaks);
                Interlocked.Exchange(ref _openUntilTicks, openUntil.UtcTicks);
                transition = Move(CircuitState.Open, fromOtherReplica: true, reason: null);
                _probeInFlight = false;
            }
            else if (state == CircuitState.Closed && _state != CircuitState.Closed)
            {
                transition = Close(fromOtherReplica: true);
            }
        }
        Notify(transition);
    }

    private long NowTicks => _timeProvider.GetUtcNow().UtcTicks;

    /// <summary>Notes a suspect failure of <paramref name="client"/>; whether enough distinct clients have had one lately for it to count.</summary>
    private bool CountsSuspect(string client, long now)
    {
        var slot = 0;
        for (var i = 0; i < _suspects.Length; i++)
        {
            if (_suspects[i].Client == client)
            {
                slot = i;
                break;
            }
            if (_suspects[i].Ticks < _suspects[slot].Ticks)
            {
                slot = i; // the oldest (or an empty slot) makes room
            }
        }
        _suspects[slot] = (client, now);
        var recent = 0;
        foreach (var (_, ticks) in _suspects)
        {
            if (ticks > 0 && now - ticks <= _windowTicks)
            {
                recent++;
            }
        }
        return recent >= _suspects.Length;
    }

    private CircuitTransition Open(long now, string reason)
    {
        var seconds = Math.Min(_options.BreakDurationSeconds * Math.Pow(2, _breaks), _options.MaxBreakDurationSeconds);
        _breaks++;
        Interlocked.Exchange(ref _openUntilTicks, now + TimeSpan.FromSeconds(seconds).Ticks);
        _consecutiveFailures = 0;
        _probeInFlight = false;
        _window.Clear();
        return Move(CircuitState.Open, fromOtherReplica: false, reason);
    }

    private CircuitTransition Close(bool fromOtherReplica)
    {
        _breaks = 0;
        _consecutiveFailures = 0;
        _probeInFlight = false;
        _window.Clear();
        return Move(CircuitState.Closed, fromOtherReplica, reason: null);
    }

    private CircuitTransition Move(CircuitState to, bool fromOtherReplica, string? reason)
    {
        var from = _state;
        _state = to;
        return new CircuitTransition(from, to, OpenUntil, _breaks, fromOtherReplica, reason);
    }

    // Outside the lock: the listener logs and publishes.
    private void Notify(CircuitTransition? transition)
    {
        if (transition is { } t)
        {
            _listener?.OnTransition(this, t);
        }
    }
}
