using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Pool;

namespace AgentPlatform.Router.Routing;

/// <summary>Random, in proportion to each deployment's <c>Weight</c>.</summary>
internal sealed class WeightedRoutingStrategy(Random random) : IRoutingStrategy
{
    public string Name => RoutingStrategyNames.Weighted;

    public Deployment Pick(IReadOnlyList<Deployment> candidates)
    {
        var total = 0.0;
        for (var i = 0; i < candidates.Count; i++)
        {
            total += candidates[i].Weight;
        }
        var target = random.NextDouble() * total;
        for (var i = 0; i < candidates.Count; i++)
        {
            target -= candidates[i].Weight;
            if (target < 0)
            {
                return candidates[i];
            }
        }
        return candidates[^1];
    }
}
