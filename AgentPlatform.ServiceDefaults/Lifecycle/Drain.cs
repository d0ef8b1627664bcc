using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentPlatform.ServiceDefaults.Lifecycle;

/// <summary>
/// A replica's graceful shutdown. From SIGTERM (or Ctrl+C) the replica is unready (<c>/health</c>
/// fails) and Kestrel takes no new connections; requests and streams in flight go on until
/// <see cref="Deadline"/>, <see cref="DrainOptions.DrainTimeout"/> later, when those still open are
/// ended by the code that serves them; then the hosted services flush (the usage spool, telemetry)
/// and the process exits.
/// </summary>
/// <remarks>
/// The host stops the web server before the other hosted services (it starts last), so the usage
/// ledger is still writing while requests drain. The host's own shutdown timeout is the drain plus
/// <see cref="DrainOptions.FlushTimeoutSeconds"/>: past it, whatever is left is cut.
/// </remarks>
public sealed partial class Drain : IHostedService, IDisposable
{
    private readonly IHostApplicationLifetime _lifetime;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<Drain> _logger;
    private readonly TimeSpan _timeout;
    private readonly CancellationTokenSource _deadline;
    private CancellationTokenRegistration _stopping;
    private volatile bool _draining;
    private long _deadlineTicks = long.MaxValue;

    public Drain(IHostApplicationLifetime lifetime, IOptions<DrainOptions> options, TimeProvider timeProvider, ILogger<Drain> logger)
    {
        _lifetime = lifetime;
        _timeProvider = timeProvider;
        _logger = logger;
        _timeout = options.Value.DrainTimeout;
        _deadline = new CancellationTokenSource(Timeout.InfiniteTimeSpan, timeProvider);
    }

    /// <summary>Whether the replica is shutting down (it serves what it has, and takes nothing new).</summary>
    public bool IsDraining => _draining;

    /// <summary>Cancelled when the drain time is over: whatever is still being served must end now.</summary>
    public CancellationToken Deadline => _deadline.Token;

    /// <summary>When the drain ends, in UTC ticks of the <see cref="TimeProvider"/>; <see cref="long.MaxValue"/> until it begins.</summary>
    public long DeadlineTicks => Interlocked.Read(ref _deadlineTicks);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _stopping = _lifetime.ApplicationStopping.Register(Begin);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void Begin()
    {
        Interlocked.Exchange(ref _deadlineTicks, _timeProvider.GetUtcNow().UtcTicks + _timeout.Ticks);
        _draining = true;
        LogDraining(_logger, _timeout.TotalSeconds);
        _deadline.CancelAfter(_timeout);
    }

    public void Dispose()
    {
        _stopping.Dispose();
        _deadline.Dispose();
    }

    [LoggerMessage(EventId = 9001, Level = LogLevel.Information,
        Message = "Shutting down: unready now, serving what is in flight for up to {DrainSeconds} s.")]
    private static partial void LogDraining(ILogger logger, double drainSeconds);
}

/// <summary>Readiness: fails from the moment the replica begins to shut down, so no new traffic is sent its way.</summary>
internal sealed class DrainHealthCheck(Drain drain) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(drain.IsDraining
            ? HealthCheckResult.Unhealthy("This replica is shutting down.")
            : HealthCheckResult.Healthy());
}
