using System.Diagnostics;
using System.Diagnostics.Metrics;
using AgentPlatform.ServiceDefaults.Telemetry;

namespace AgentPlatform.Router.Forwarding;

/// <summary>The Router's instruments, on the meter <c>AgentPlatform.Router</c>.</summary>
public sealed class RouterMetrics
{
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;

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
    }

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
