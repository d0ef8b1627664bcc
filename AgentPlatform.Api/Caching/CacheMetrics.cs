using System.Diagnostics.Metrics;
using AgentPlatform.ServiceDefaults.Telemetry;

namespace AgentPlatform.Api.Caching;

/// <summary>The response cache's instruments (meter <c>AgentPlatform.Api</c>).</summary>
public sealed class CacheMetrics
{
    private readonly Counter<long> _requests;
    private readonly Counter<long> _fillWaits;
    private readonly Counter<long> _tokensSaved;
    private readonly Counter<double> _costSaved;

    public CacheMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(PlatformTelemetry.Api);
        _requests = meter.CreateCounter<long>("agentplatform.cache.requests", "{request}",
            "Chat completions by cache outcome: hit (and from which level), miss or bypass.");
        _fillWaits = meter.CreateCounter<long>("agentplatform.cache.fill_waits", "{request}",
            "Requests that waited for another request's fill of the same entry instead of going upstream.");
        _tokensSaved = meter.CreateCounter<long>("agentplatform.cache.tokens_saved", "{token}",
            "Tokens that hits did not spend upstream.");
        _costSaved = meter.CreateCounter<double>("agentplatform.cache.cost_saved", "USD",
            "What hits would have cost upstream.");
    }

    /// <param name="level"><c>local</c> or <c>shared</c> for a hit; null otherwise.</param>
    public void Request(string outcome, string? level = null) =>
        _requests.Add(1, new KeyValuePair<string, object?>("outcome", outcome), new KeyValuePair<string, object?>("level", level));

    public void FillWaited() => _fillWaits.Add(1);

    /// <param name="model">The model group (only groups that answered have entries, so the tag stays bounded).</param>
    public void Saved(CachedAnswer answer, string model)
    {
        var tag = new KeyValuePair<string, object?>("gen_ai.request.model", model);
        _tokensSaved.Add(answer.TotalTokens, tag);
        _costSaved.Add((double)answer.CostUsd, tag);
    }
}
