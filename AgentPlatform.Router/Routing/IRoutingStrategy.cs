using AgentPlatform.Router.Pool;

namespace AgentPlatform.Router.Routing;

/// <summary>
/// Picks the deployment to try from the candidates still available for a request (same priority,
/// not yet tried). Implementations are stateless; live state comes from <see cref="Deployment.State"/>.
/// </summary>
public interface IRoutingStrategy
{
    /// <summary>The name a model group's <c>Strategy</c> uses; see <see cref="RoutingStrategyNames"/>.</summary>
    string Name { get; }

    /// <summary>Picks one of <paramref name="candidates"/>, which is never empty.</summary>
    Deployment Pick(IReadOnlyList<Deployment> candidates);
}

public static class RoutingStrategyNames
{
    public const string Weighted = "weighted";
    public const string LeastBusy = "least-busy";
    public const string LowestLatency = "lowest-latency";
    public const string UsageBased = "usage-based";
    public const string Cheapest = "cheapest";

    public static readonly string[] All = [Weighted, LeastBusy, LowestLatency, UsageBased, Cheapest];
}
