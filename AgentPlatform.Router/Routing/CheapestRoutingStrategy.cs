using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Pool;

namespace AgentPlatform.Router.Routing;

/// <summary>
/// The lowest price per million tokens (input + output) among the candidates; ties share the traffic
/// by weight. Unhealthy deployments never reach the candidates, so this is the cheapest healthy one.
/// </summary>
internal sealed class CheapestRoutingStrategy(WeightedRoutingStrategy weighted) : IRoutingStrategy
{
    public string Name => RoutingStrategyNames.Cheapest;

    public Deployment Pick(IReadOnlyList<Deployment> candidates)
    {
        var lowest = double.MaxValue;
        foreach (var candidate in candidates)
        {
            lowest = Math.Min(lowest, candidate.PricePerMillion);
        }
        var cheapest = candidates.Where(c => c.PricePerMillion == lowest).ToList();
        return cheapest.Count == 1 ? cheapest[0] : weighted.Pick(cheapest);
    }
}
