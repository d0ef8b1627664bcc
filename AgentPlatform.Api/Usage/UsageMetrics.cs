using System.Diagnostics;
using System.Diagnostics.Metrics;
using AgentPlatform.ServiceDefaults.Telemetry;

namespace AgentPlatform.Api.Usage;

/// <summary>
/// The Api's view of every chat completion as metrics (meter <c>AgentPlatform.Api</c>), recorded from
/// its usage record when it ends: requests by outcome and status, latency, platform overhead, time to
/// first token, tokens and cost, limit refusals, and what is in flight.
/// </summary>
/// <remarks>
/// Tags stay bounded: the model group only when the pool knew it (a client can type any name), the
/// tenant's id, never a key or a prompt.
/// </remarks>
public sealed class UsageMetrics
{
    private const string ModelTag = "gen_ai.request.model";
    private const string TenantTag = "agentplatform.tenant";
    private const string OutcomeTag = "agentplatform.outcome";

    private static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _overhead;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;
    private readonly Counter<long> _refusals;
    private readonly UpDownCounter<long> _active;
    private readonly UpDownCounter<long> _activeStreams;
    private readonly Counter<long> _agentRuns;

    public UsageMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(PlatformTelemetry.Api);
        _requests = meter.CreateCounter<long>("agentplatform.requests", "{request}",
            "Chat completions by outcome (success, refused, error, interrupted, client_aborted) and status.");
        _duration = meter.CreateHistogram<double>("agentplatform.request.duration", "s",
            "From a chat completion's arrival to the last byte of its answer.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _overhead = meter.CreateHistogram<double>("agentplatform.request.overhead", "s",
            "Time a chat completion spent in the platform rather than at its deployment (x-agentplatform-overhead-ms).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _timeToFirstToken = meter.CreateHistogram<double>("gen_ai.server.time_to_first_token", "s",
            "From a streamed chat completion's arrival until its first content reached the client.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });
        _tokens = meter.CreateCounter<long>("agentplatform.tokens", "{token}",
            "Tokens used, by type: input, cached (input served from the provider's prompt cache, also counted in input) and output.");
        _cost = meter.CreateCounter<double>("agentplatform.cost", "USD", "What chat completions cost at their deployments' prices.");
        _refusals = meter.CreateCounter<long>("agentplatform.limits.refusals", "{request}",
            "Requests refused by a limit (requests, tokens, concurrency, budget, too_large) of a key or a tenant.");
        _active = meter.CreateUpDownCounter<long>("agentplatform.requests.active", "{request}", "Chat completions being served now.");
        _activeStreams = meter.CreateUpDownCounter<long>("agentplatform.streams.active", "{stream}", "Streamed answers being relayed to clients now.");
        _agentRuns = meter.CreateCounter<long>("agentplatform.agent.runs", "{run}",
            "Agent runs ended, by agent and status (completed, stopped, failed) and, for a stopped run, why (stop_reason). Their model steps count as requests.");
    }

    /// <summary>An agent run ended: the agent (a defined name: bounded), its status and, when a safeguard stopped it, why.</summary>
    public void AgentRunEnded(string agent, string status, string? stopReason) =>
        _agentRuns.Add(1, new TagList { { "gen_ai.agent.name", agent }, { "agentplatform.agent.status", status }, { "agentplatform.agent.stop_reason", stopReason ?? "none" } });

    public void Started() => _active.Add(1);

    /// <summary>A request that became an agent run: not counted itself, its model steps are (each <see cref="Started"/> and <see cref="Finished"/>).</summary>
    public void HandedOver() => _active.Add(-1);

    public void StreamStarted() => _activeStreams.Add(1);

    public void StreamEnded() => _activeStreams.Add(-1);

    /// <param name="knownModel">Whether the pool knew the record's model (it answered, or the cache did).</param>
    public void Finished(UsageRecord record, bool knownModel)
    {
        _active.Add(-1);
        // TagList keeps up to eight tags inline: nothing is allocated per request for them.
        var model = new KeyValuePair<string, object?>(ModelTag, knownModel ? record.Model : "unknown");
        var tenant = new KeyValuePair<string, object?>(TenantTag, record.TenantId ?? "none");
        var outcome = new KeyValuePair<string, object?>(OutcomeTag, record.Outcome);
        _requests.Add(1, new TagList { model, tenant, outcome, { "http.response.status_code", record.Status } });
        _duration.Record(record.LatencyMs / 1000, model, outcome);
        if (record.OverheadMs is { } overhead)
        {
            _overhead.Record(overhead / 1000, model);
        }
        if (record.TimeToFirstTokenMs is { } firstToken)
        {
            _timeToFirstToken.Record(firstToken / 1000, model);
        }
        if (record.TotalTokens > 0)
        {
            _tokens.Add(record.PromptTokens, model, tenant, new KeyValuePair<string, object?>("gen_ai.token.type", "input"));
            _tokens.Add(record.CachedTokens, model, tenant, new KeyValuePair<string, object?>("gen_ai.token.type", "cached"));
            _tokens.Add(record.CompletionTokens, model, tenant, new KeyValuePair<string, object?>("gen_ai.token.type", "output"));
        }
        if (record.CostUsd > 0)
        {
            _cost.Add((double)record.CostUsd, model, tenant);
        }
    }

    /// <param name="limit"><c>requests</c>, <c>tokens</c>, <c>concurrency</c>, <c>budget</c> or <c>too_large</c>.</param>
    /// <param name="scope"><c>key</c> or <c>tenant</c>.</param>
    public void Refused(string limit, string scope) =>
        _refusals.Add(1, new KeyValuePair<string, object?>("agentplatform.limit", limit), new KeyValuePair<string, object?>("agentplatform.scope", scope));
}
