using System.Diagnostics;
using System.Diagnostics.Metrics;
using AgentPlatform.Contracts.Usage;
using AgentPlatform.Router.Resilience;
using AgentPlatform.ServiceDefaults.Telemetry;

namespace AgentPlatform.Router.Telemetry;

/// <summary>The Router's instruments, on the meter <c>AgentPlatform.Router</c>, and its activity source.</summary>
public sealed class RouterMetrics
{
    /// <summary>The Router's spans: one per attempt on a deployment.</summary>
    public static readonly ActivitySource ActivitySource = new(PlatformTelemetry.Router);

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Histogram<long> _tokens;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _fallbacks;
    private readonly Counter<long> _breakerTransitions;
    private readonly Counter<long> _breakerRejections;

    private readonly DeploymentStats _stats;

    public RouterMetrics(IMeterFactory meterFactory, DeploymentStats stats)
    {
        _stats = stats;
        var meter = meterFactory.Create(PlatformTelemetry.Router);
        _requests = meter.CreateCounter<long>(
            "agentplatform.router.requests", unit: "{request}",
            description: "Chat completion attempts sent to deployments, by outcome.");
        _duration = meter.CreateHistogram<double>(
            "gen_ai.client.operation.duration", unit: "s",
            description: "Time from sending a request to a deployment until its response headers arrived.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
        _tokens = meter.CreateHistogram<long>(
            "gen_ai.client.token.usage", unit: "{token}",
            description: "Tokens per answer as the provider reported them, by type (input, output).",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304] });
        _retries = meter.CreateCounter<long>(
            "agentplatform.router.retries", unit: "{retry}",
            description: "Attempts after a request's first, by model group and the deployment that failed before.");
        _fallbacks = meter.CreateCounter<long>(
            "agentplatform.router.fallbacks", unit: "{fallback}",
            description: "Requests moved on to a fallback model group, by reason (exhausted, context_window).");
        _breakerTransitions = meter.CreateCounter<long>(
            "agentplatform.router.breaker.transitions", unit: "{transition}",
            description: "Circuit breaker state changes, by deployment and the state entered.");
        _breakerRejections = meter.CreateCounter<long>(
            "agentplatform.router.breaker.rejections", unit: "{request}",
            description: "Requests a deployment's breaker turned away (open, or half-open with its probe out), by deployment.");
    }

    /// <summary>A deployment its breaker kept a request away from (counted at the request's first pick in a group).</summary>
    public void BreakerRejection(string modelGroup, string deployment) =>
        _breakerRejections.Add(1, new TagList { { "gen_ai.request.model", modelGroup }, { "agentplatform.deployment", deployment } });

    /// <summary>An answer's tokens, as OpenTelemetry's GenAI conventions count them: one record per token type.</summary>
    /// <param name="estimated">The provider reported no usage, so these are the Router's estimate.</param>
    public void TokenUsage(string modelGroup, string deployment, string providerModel, TokenUsage usage, bool estimated)
    {
        var tags = new TagList
        {
            { "gen_ai.operation.name", "chat" },
            { "gen_ai.request.model", modelGroup },
            { "gen_ai.response.model", providerModel },
            { "agentplatform.deployment", deployment },
            { "agentplatform.usage.estimated", estimated },
            { "gen_ai.token.type", "input" },
        };
        _tokens.Record(usage.InputTokens, tags);
        tags[^1] = new("gen_ai.token.type", "output");
        _tokens.Record(usage.OutputTokens, tags);
    }

    public void Retry(string modelGroup, string failedDeployment) =>
        _retries.Add(1, new TagList { { "gen_ai.request.model", modelGroup }, { "agentplatform.deployment", failedDeployment } });

    public void Fallback(string fromGroup, string toGroup, string reason) =>
        _fallbacks.Add(1, new TagList { { "gen_ai.request.model", fromGroup }, { "agentplatform.fallback.model", toGroup }, { "agentplatform.fallback.reason", reason } });

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
        // The deployment's own failures, as alert rules count them (a 400 or a too-long prompt is the request's).
        _stats.Record(modelGroup, deployment, error: outcome is "refused" or "failed", elapsed);
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
