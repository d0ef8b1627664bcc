using System.Threading.Channels;
using AgentPlatform.Router.Resilience;

namespace AgentPlatform.Router.Telemetry;

/// <summary>
/// Logs and counts every breaker transition, and queues the ones decided here for
/// <c>Pool/SharedBreakerState</c> to publish, so no request waits on Redis.
/// </summary>
public sealed class CircuitBreakerEvents(RouterMetrics metrics, ILogger<CircuitBreakerEvents> logger) : ICircuitBreakerListener
{
    private readonly Channel<(CircuitBreaker Breaker, CircuitTransition Transition)> _toPublish =
        Channel.CreateUnbounded<(CircuitBreaker, CircuitTransition)>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Transitions decided on this replica, for the other replicas.</summary>
    public ChannelReader<(CircuitBreaker Breaker, CircuitTransition Transition)> ToPublish => _toPublish.Reader;

    public void OnTransition(CircuitBreaker breaker, CircuitTransition transition)
    {
        metrics.BreakerTransition(breaker.Group, breaker.Deployment, transition.To);
        switch (transition.To)
        {
            case CircuitState.Open:
                Log.BreakerOpened(logger, breaker.Deployment, breaker.Group, transition.OpenUntil, transition.FromOtherReplica ? "another Router replica opened it" : transition.Reason ?? "");
                break;
            case CircuitState.HalfOpen:
                Log.BreakerHalfOpen(logger, breaker.Deployment, breaker.Group);
                break;
            case CircuitState.Closed:
                Log.BreakerClosed(logger, breaker.Deployment, breaker.Group, transition.FromOtherReplica ? "another Router replica" : "this replica");
                break;
        }
        // Half-open is local: each replica lets its own probe through when the break ends.
        if (!transition.FromOtherReplica && transition.To != CircuitState.HalfOpen)
        {
            _toPublish.Writer.TryWrite((breaker, transition));
        }
    }
}
