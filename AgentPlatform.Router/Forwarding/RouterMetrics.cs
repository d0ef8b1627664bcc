using System.Diagnostics;
using System.Diagnostics.Metrics;
using AgentPlatform.Router.Resilience;
using AgentPlatform.ServiceDefaults.Telemetry;

namespace AgentPlatform.Router.Forwarding;

/// <summary>The Router's instruments, on the meter <c>AgentPlatform.Router</c>.</summary>
public sealed class RouterMetrics
{
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _breakerTransitions;

    public RouterMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(PlatformTelemetry.Router);
        _requests = meter.CreateCounter<long>(
            "agentplatform.router.requests", unit: "{request}",
            description: "Chat completion attempts sent to deployments, by outcome.");
        _duration = meter.CreateHistogram<double>(
            "gen_ai.client.operation.duration", unit: "s",
            description: "Time from sending a request to a deployment until its response headers arrived.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
        _retries = meter.CreateCounter<long>(
            "agentplatform.router.retries", unit: "{retry}",
            description: "Attempts after a request's first, by model group and the deployment that failed before.");
        _breakerTransitions = meter.CreateCounter<long>(
            "agentplatform.router.breaker.transitions", unit: "{transition}",
            description: "Circuit breaker state changes, by deployment and the state entered.");
    }

    public void Retry(string modelGroup, string failedDeployment) =>
        _retries.Add(1, new TagList { { "gen_ai.request.model", modelGroup }, { "agentplatform.deployment", failedDeployment } });

    public void BreakerTransition(string modelGroup, string deployment, CircuitState state) =>
        _breakerTransitions.Add(1, new TagList
        {
            { "gen_ai.request.model", modelGroup },
            { "agentplatform.deployment", deployment },
            { "agentplatform.breaker.state", state switch { CircuitState.Open => "open", CircuitState.HalfOpen => "half_open", _ => "closed" } },
        });

    /// <summary>One attempt: <paramref name="outcome"/> is <c>success</c>, <c>refused</c> (429/5xx) or <c>failed</c>.</summary>
    public void Attempt(string modelGroup, string deployment, string outcome, int? statusCode, TimeSpan elapsed)
    {
        var tags = new TagList
        {
            { "gen_ai.operation.name", "chat" },
            { "gen_ai.request.model", modelGroup },
            { "agentplatform.deployment", deployment },
            { "agentplatform.outcome", outcome },
        };
        if (statusCode is { } status)
        {
            tags.Add("http.response.status_code", status);
        }
        _requests.Add(1, tags);
        _duration.Record(elapsed.TotalSeconds, tags);
    }
}
