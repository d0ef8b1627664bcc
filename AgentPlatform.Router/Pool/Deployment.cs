using AgentPlatform.Contracts.Usage;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Providers;
using AgentPlatform.Router.Resilience;

namespace AgentPlatform.Router.Pool;

/// <summary>A deployment ready to call: everything per-request work needs is computed once here.</summary>
public sealed class Deployment
{
    public Deployment(
        string group,
        DeploymentOptions options,
        IProviderAdapter adapter,
        TimeProvider timeProvider,
        CircuitBreakerOptions? breakerOptions = null,
        ICircuitBreakerListener? breakerListener = null,
        double latencyDecaySeconds = RouterOptions.DefaultLatencyDecaySeconds)
    {
        Group = group;
        OptionsJson = ModelPool.Json(options);
        Breaker = new CircuitBreaker(group, options.Name, breakerOptions ?? new(), timeProvider, breakerListener);
        Priority = options.Priority;
        InputPricePerMillion = options.InputPricePerMillion;
        CachedInputPricePerMillion = options.CachedInputPricePerMillion;
        OutputPricePerMillion = options.OutputPricePerMillion;
        CacheWriteInputPricePerMillion = options.CacheWriteInputPricePerMillion;
        State = new DeploymentState(timeProvider, TimeSpan.FromSeconds(latencyDecaySeconds));
        Name = options.Name;
        Provider = options.Provider;
        Kind = options.Kind;
        Model = options.Model;
        Weight = options.Weight;
        MaxOutputTokens = options.MaxOutputTokens;
        PriceHeaderValue = new Prices(options.InputPricePerMillion, options.CachedInputPricePerMillion, options.OutputPricePerMillion, options.CacheWriteInputPricePerMillion).Format();
        ContextWindow = options.ContextWindow;
        Rpm = options.Rpm;
        Tpm = options.Tpm;
        Adapter = adapter;
        Endpoint = new ProviderEndpoint(options, adapter.RequestUri(options), options.ResponsesApi ? adapter.ResponsesUri(options) : null);
    }

    public string Name { get; }

    /// <summary>The configuration it was built from, to tell on a reload whether it changed.</summary>
    internal string OptionsJson { get; }

    /// <summary>The model group the deployment serves; a deployment listed in two groups is two deployments.</summary>
    public string Group { get; }

    public string Provider { get; }

    /// <summary>What it answers: one of <see cref="DeploymentKinds"/>.</summary>
    public string Kind { get; }

    public string Model { get; }

    public double Weight { get; }

    public int Priority { get; }

    public double InputPricePerMillion { get; }

    public double CachedInputPricePerMillion { get; }

    public double OutputPricePerMillion { get; }

    /// <summary>What a prompt token written to the provider's cache costs; null when it costs the input price.</summary>
    public double? CacheWriteInputPricePerMillion { get; }

    /// <summary>The prices as the Router tells the Api (<see cref="Prices.Format"/>), computed once.</summary>
    public string PriceHeaderValue { get; }

    /// <summary>What the cheapest strategy compares: input plus output price per million tokens.</summary>
    public double PricePerMillion => InputPricePerMillion + OutputPricePerMillion;

    /// <summary>This replica's live view: requests in flight, latency.</summary>
    public DeploymentState State { get; }

    public CircuitBreaker Breaker { get; }

    /// <summary>
    /// Whether a request may be sent now: not drained, its breaker lets it through and it has not
    /// asked to be left alone.
    /// </summary>
    public bool IsAvailable(long nowTicks) => Drain is null && Breaker.IsAvailable(nowTicks) && !State.IsCoolingDown(nowTicks);

    /// <summary>Set while an operator has taken the deployment out of rotation (<see cref="DeploymentDrains"/>).</summary>
    public DrainNote? Drain { get; internal set; }

    /// <summary>The most tokens (prompt and answer) the model takes; null when not configured.</summary>
    public int? ContextWindow { get; }

    /// <summary>Requests per minute it takes; null when unlimited.</summary>
    public int? Rpm { get; }

    /// <summary>Tokens per minute it takes; null when unlimited.</summary>
    public int? Tpm { get; }

    public bool HasCapacityLimits => Rpm is not null || Tpm is not null;

    /// <summary>Whether a request fits: its prompt and one answer in the context window, all its answers in a minute's tokens (default size: not estimated).</summary>
    public bool Fits(RequestSize size) => (ContextWindow is not { } window || size.Context <= window) && (Tpm is not { } tpm || size.PerMinute <= tpm);

    /// <summary>What is left of the deployment's minute right now, as this replica last saw it; null where unlimited.</summary>
    public (double? Requests, double? Tokens) Headroom(long nowMs)
    {
        var (requestsTat, tokensTat) = State.CapacityTats;
        return (Rpm is { } rpm ? rpm - Math.Max(0, requestsTat - nowMs) * rpm / 60_000.0 : null,
                Tpm is { } tpm ? tpm - Math.Max(0, tokensTat - nowMs) * tpm / 60_000.0 : null);
    }

    /// <summary>The most tokens the deployment may generate for one answer; null when not configured.</summary>
    public int? MaxOutputTokens { get; }

    /// <summary>Speaks the deployment's provider API.</summary>
    public IProviderAdapter Adapter { get; }

    /// <summary>What the adapter calls: the request URI, the provider's model name, the key.</summary>
    public ProviderEndpoint Endpoint { get; }

    // The key stays out of every string form of the deployment.
    public override string ToString() => $"{Name} ({Provider}, {Model})";
}
