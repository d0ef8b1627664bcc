using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Pool;

namespace AgentPlatform.Router.Routing;

/// <summary>
/// The deployment with the most of its minute left: remaining tokens per minute first, then remaining
/// requests per minute (a deployment without a limit has endless headroom), as Redis last told this
/// replica. Ties share the traffic by weight. So load spreads in proportion to what each deployment can
/// still take, and none is pushed into its provider's 429s while another has room.
/// </summary>
internal sealed class UsageBasedRoutingStrategy(WeightedRoutingStrategy weighted, TimeProvider timeProvider) : IRoutingStrategy
{
    public string Name => RoutingStrategyNames.UsageBased;

    public Deployment Pick(IReadOnlyList<Deployment> candidates)
    {
        if (candidates.Count == 1)
        {
            return candidates[0];
        }
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var best = new List<Deployment>(candidates.Count);
        (double Tokens, double Requests) bestHeadroom = (double.MinValue, double.MinValue);
        foreach (var candidate in candidates)
        {
            var (requests, tokens) = candidate.Headroom(now);
            var headroom = (tokens ?? double.PositiveInfinity, requests ?? double.PositiveInfinity);
            var comparison = headroom.CompareTo(bestHeadroom);
            if (comparison > 0)
            {
                best.Clear();
                bestHeadroom = headroom;
            }
            if (comparison >= 0)
            {
                best.Add(candidate);
            }
        }
        return best.Count == 1 ? best[0] : weighted.Pick(best);
    }
}
