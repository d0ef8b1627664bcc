using System.Diagnostics.Metrics;
using AgentPlatform.Router.Resilience;
using AgentPlatform.Router.Telemetry;
using AgentPlatform.ServiceDefaults.Telemetry;

namespace AgentPlatform.Router.Pool;

/// <summary>
/// The pool's live state as gauges, read when metrics are collected: each deployment's breaker state,
/// requests in flight and whether it is drained. (Apart from <see cref="RouterMetrics"/>, which the pool's breakers
/// report to, so that neither needs the other to be built.)
/// </summary>
public sealed class PoolMetrics : IHostedService
{
    public PoolMetrics(ModelPool pool, IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(PlatformTelemetry.Router);
        meter.CreateObservableGauge("agentplatform.router.breaker.state",
            () => Each(pool, d => d.Breaker.State switch { CircuitState.Open => 2, CircuitState.HalfOpen => 1, _ => 0 }),
            unit: "{state}", description: "Each deployment's circuit breaker: 0 closed, 1 half-open (probing), 2 open.");
        meter.CreateObservableGauge("agentplatform.router.deployment.in_flight",
            () => Each(pool, d => d.State.InFlight),
            unit: "{request}", description: "Requests each deployment is answering now, on this replica.");
        meter.CreateObservableGauge("agentplatform.router.deployment.drained",
            () => Each(pool, d => d.Drain is null ? 0 : 1),
            unit: "{state}", description: "1 while a deployment is drained by hand (taken out of rotation), else 0.");
    }

    private static IEnumerable<Measurement<long>> Each(ModelPool pool, Func<Deployment, long> value) =>
        pool.Groups.SelectMany(group => group.Deployments.Select(deployment => new Measurement<long>(value(deployment),
            new KeyValuePair<string, object?>("gen_ai.request.model", group.Name),
            new KeyValuePair<string, object?>("agentplatform.deployment", deployment.Name))));

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
