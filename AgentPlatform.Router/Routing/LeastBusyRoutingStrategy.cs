using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Pool;

namespace AgentPlatform.Router.Routing;

/// <summary>
/// Power of two choices on requests in flight: two random candidates, the less busy wins. Nearly as
/// good as scanning for the least busy, without every replica herding onto the same one.
/// </summary>
internal sealed class LeastBusyRoutingStrategy(Random random) : IRoutingStrategy
{
    public string Name => RoutingStrategyNames.LeastBusy;

    public Deployment Pick(IReadOnlyList<Deployment> candidates) =>
        PowerOfTwoChoices.Pick(candidates, random, static d => d.State.InFlight);
}

/// <summary>Two distinct random candidates; the one with the lower cost.</summary>
internal static class PowerOfTwoChoices
{
    public static Deployment Pick(IReadOnlyList<Deployment> candidates, Random random, Func<Deployment, double> cost)
    {
        if (candidates.Count == 1)
        {
            return candidates[0];
        }
        var first = random.Next(candidates.Count);
        var second = random.Next(candidates.Count - 1);
        if (second >= first)
        {
            second++;
        }
        return cost(candidates[second]) < cost(candidates[first]) ? candidates[second] : candidates[first];
    }
}
