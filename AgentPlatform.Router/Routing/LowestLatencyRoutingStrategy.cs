using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Pool;

namespace AgentPlatform.Router.Routing;

/// <summary>
/// Power of two choices on peak-EWMA latency × (requests in flight + 1), the cost Finagle's and YARP's
/// peak-EWMA balancers use: the fast deployment gets the traffic until its queue makes it slower.
/// A deployment with no sample yet costs 0, so each is tried once; one left idle fades toward 0 and is
/// tried again, so a single slow answer does not shut it out for good.
/// </summary>
internal sealed class LowestLatencyRoutingStrategy(Random random) : IRoutingStrategy
{
    public string Name => RoutingStrategyNames.LowestLatency;

    public Deployment Pick(IReadOnlyList<Deployment> candidates) =>
        PowerOfTwoChoices.Pick(candidates, random, static d => d.State.LatencyCostMs * (d.State.InFlight + 1));
}
